#pragma once
// How well a joint image–text space sorts: cross-modal retrieval Recall@k, zero-shot scores from
// prompt ensembles, CLIPScore, and the ROC AUC of scores against binary labels.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "whatif/data/roc_auc.hpp"
#include "whatif/tensor.hpp"

namespace whatif {

// Image→text and text→image Recall@k of unit embeddings images [N, d] and texts [N, d], where row
// i of each is the same example. A retrieved item is a hit when its label equals the query's
// (`labels` one per example; empty = the example's own index, so only i matches i): two examples
// with the same report are the same answer. Returns "image_to_text_r<k>", "text_to_image_r<k>"
// for each k, and "chance_r<k>": the expected recall of a random ranking, averaged over queries.
std::map<std::string, double> retrieval_recall(const at::Tensor& images, const at::Tensor& texts,
                                               const std::vector<std::string>& labels,
                                               const std::vector<std::int64_t>& ks);

// Zero-shot scores of unit image embeddings [N, d] for a finding described by `positive` and
// `negative` prompt embeddings [P, d], [Q, d]: each ensemble is averaged and renormalised (Radford
// et al. 2021, §3.1.4), the score is cos(image, positive) − cos(image, negative). [N] float.
at::Tensor zero_shot_scores(const at::Tensor& images, const at::Tensor& positive, const at::Tensor& negative);

// CLIPScore of unit image embeddings [N, d] against the unit embeddings of their own prompts
// [N, d], row i with row i: 100 · max(cos, 0) per pair (Hessel et al. 2021 with w = 100, the
// scale 3D text-to-CT work reports). [N] float.
at::Tensor clip_scores(const at::Tensor& images, const at::Tensor& texts);

// data::roc_auc (the ROC AUC of scores against labels) is shared with the metrics plugin:
// whatif/data/roc_auc.hpp.

}  // namespace whatif

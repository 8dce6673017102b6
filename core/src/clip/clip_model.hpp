#pragma once
// ClipModel{image, text}: contrastive image–text pretraining (CLIP, Radford et al. 2021) on a
// dataset's images and reports, 2D or 3D (the 3D towers of CT-CLIP, Hamamci et al. 2024). Each
// tower's output is mapped by a linear projection (no bias) into a shared space of `embed_dim`
// and normalised; the loss is the symmetric InfoNCE over the batch with a learnable temperature
// (1/τ = exp(logit_scale), clamped at `max_logit_scale`).
//
// Same text, same answer: examples whose texts are equal are each other's positives (the target
// row spreads evenly over them), not false negatives; with distinct texts this is CLIP's loss.
//
// Negatives across accumulation: with accumulate = A, one optimizer step contrasts the whole
// global batch (A micro-batches). The embeddings of all A micro-batches are computed first
// without gradients, the loss over the whole batch gives the gradient with respect to each
// embedding, and each micro-batch is then run again with gradients and backpropagates its cached
// embedding gradient (Gao et al. 2021, "gradient cache"). The weights get exactly the gradient of
// the full-batch loss, for the memory of one micro-batch and one more forward pass per example.
//
// Auxiliary mask loss: with mask_weight > 0 the image tower's full-resolution map also predicts
// the dataset's masks per voxel (class-balanced cross-entropy through a 1×1 head), so that a
// finding of a few voxels that contrast alone does not find (MS lesions) is learnt from where it is.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "whatif/dataset.hpp"
#include "whatif/model.hpp"
#include "whatif/registry/fields.hpp"
#include "whatif/text.hpp"
#include "whatif/vision.hpp"

namespace whatif {

struct ClipParts {
  std::shared_ptr<VisionEncoder> image;
  std::shared_ptr<TextEncoder> text;
};

struct ClipConfig {
  std::int64_t embed_dim = 128;     // width of the joint space
  double temperature = 0.07;        // initial τ
  double max_logit_scale = 100.0;   // 1/τ never exceeds this
  bool bf16 = false;                // embed under bf16 autocast
  double mask_weight = 0;           // weight of the auxiliary per-voxel mask loss (0: off)

  static const Fields<ClipConfig>& fields();
  void check() const;
};

// The symmetric InfoNCE of unnormalised embeddings [B, d] at logit scale `scale` (a scalar, 1/τ),
// with soft targets over equal texts (`groups` [B] int64: equal ids = equal texts). Logs the
// in-batch image→text top-1 accuracy when `logs` is given.
at::Tensor clip_loss(const at::Tensor& images, const at::Tensor& texts, const at::Tensor& scale,
                     const at::Tensor& groups, std::map<std::string, double>* logs = nullptr);

// Class-balanced cross-entropy of per-voxel logits [B, K, *S] against labels [B, *S] (int64):
// each voxel weighs weights[label], and the sum is divided by the sum of those weights.
at::Tensor mask_loss(const at::Tensor& logits, const at::Tensor& labels, const at::Tensor& weights);

// Weights that give each label present in `counts` (voxels per label) an equal share of the loss:
// total / (present labels · count), 0 for absent labels.
at::Tensor balanced_class_weights(const at::Tensor& counts);

class ClipModel : public Model, public JointEmbedding {
 public:
  ClipModel(ClipParts parts, ClipConfig config);
  ~ClipModel() override;

  FitResult fit(const Dataset& data, const FitRequest& request) override;
  Generation generate(const GenerateRequest& request) override;        // throws: clip writes no images
  Pair counterfactual(const CounterfactualRequest& request) override;  // throws likewise
  void save(const std::string& path) const override;
  void load(const std::string& path) override;
  std::string config_json() const override;

  at::Tensor embed_images(const at::Tensor& x) override;
  at::Tensor embed_texts(const std::vector<std::string>& texts) override;
  std::shared_ptr<TextEncoder> text_encoder(bool frozen) override;
  double temperature() const;
  // Per-voxel labels [N, *S] (int64) predicted by the mask head; throws unless the model was
  // fitted with mask_weight > 0.
  at::Tensor segment(const at::Tensor& x);

 private:
  class Heads;
  // Projected, unnormalised embeddings (grad mode as the caller's).
  at::Tensor image_features(const at::Tensor& x);
  at::Tensor text_features(const std::vector<std::string>& texts);
  // image_features(x) and the mask head's logits [B, K, *S] from the same pass.
  std::pair<at::Tensor, at::Tensor> image_features_and_masks(const at::Tensor& x);
  void eval_mode();
  // `run` on x in chunks of a few images, in evaluation mode without gradients, concatenated;
  // `who` names the caller in the error for a wrongly shaped x.
  at::Tensor over_images(const std::string& who, const at::Tensor& x,
                         const std::function<at::Tensor(const at::Tensor&)>& run);
  // Every tensor a checkpoint keeps, named "image.*", "text.*", "heads.*".
  void state(NamedTensors& params, NamedTensors& buffers) const;

  ClipParts parts_;
  ClipConfig config_;
  std::unique_ptr<Heads> heads_;
  std::string data_json_ = "{}";
};

}  // namespace whatif

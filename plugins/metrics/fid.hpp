#pragma once
// fid: Fréchet distance (Heusel et al. 2017) between the features of reference volumes and of
// generated ones. Features come from a user's TorchScript extractor, forward(x [B, C, (D,) H, W])
// → [B, ...] (flattened per example); else, once fit(dataset) has run, from the penultimate layer
// of an attribute classifier trained on the dataset (classifier.hpp), with the dataset's volumes as
// the default reference set; else from `pyramid_features`.
#include <optional>

#include <torch/script.h>

#include <whatif/metric.hpp>

#include "classifier.hpp"
#include "frechet.hpp"

namespace whatif_metrics {

// The fixed default feature map, per channel (float64, [B, F]):
//  - the mean intensity in each cell of a 4×4(×4) grid: where tissue is and how bright it is;
//  - for each level of a Laplacian pyramid (Burt & Adelson 1983), at most 4 and down to 8 samples
//    per side, the root-mean-square band-pass response in each cell of a 2×2(×2) grid: how much
//    detail the volume has at that scale, and where. Blur lowers it, noise raises it. RMS keeps
//    these in intensity units like the means, so neither group outweighs the other by its unit.
// Band statistics of a Laplacian pyramid are also what the sliced Wasserstein distance of Karras
// et al. 2018 compares. Untrained, so results do not depend on downloaded weights, but they are
// not comparable with FIDs on Inception or MedicalNet features.
at::Tensor pyramid_features(const at::Tensor& x);

class FidMetric : public whatif::Metric {
 public:
  // `extractor`: path of a TorchScript module, or "" for pyramid_features.
  FidMetric(const std::string& extractor, ClassifierOptions classifier);
  // Without an extractor: trains the classifier and takes the features of every volume of `data`
  // as the reference set (used when no reference was given through update). Returns
  // {classifier_heldout_accuracy}.
  std::map<std::string, double> fit(const whatif::Dataset& data, std::uint64_t seed) override;
  void reset() override;
  // item.generated and item.reference each join their set when given; the sets need not come in
  // pairs, so reference volumes may arrive in items of their own.
  void update(const whatif::MetricItem& item) override;
  std::map<std::string, double> compute() override;

 private:
  at::Tensor features(const at::Tensor& x);

  std::string extractor_path_;
  std::optional<torch::jit::Module> extractor_;
  AttributeClassifier classifier_;
  GaussianFit generated_, reference_, data_reference_;
};

}  // namespace whatif_metrics

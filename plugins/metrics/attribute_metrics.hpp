#pragma once
// Metrics that judge a generated volume by what it shows rather than by how it looks:
//   text-alignment  an attribute classifier trained on the real training split says which class a
//                   generated volume shows; the metric is the fraction matching the requested one.
//   effectiveness   for counterfactual twins: the volume that changed between source and generated
//                   (voxels darker by more than delta, or brighter when the requested level is
//                   lower) against the change real twins of the same levels show.
//   chest-change    for chest CT twins: the findings grown between source and generated (effusion
//                   per side, consolidation, nodules), read from HU without masks, against the
//                   true change the two scans' attributes state.
//   augmentation-utility  does adding generated volumes to real training data help a finding
//                   classifier? One trained on the real data only, one on real plus generated (same
//                   network, seed and steps), both scored on held-out real volumes: ROC AUC each.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <whatif/data/volume.hpp>

#include "classifier.hpp"
#include "similarity_metrics.hpp"

namespace whatif_metrics {

class TextAlignmentMetric : public whatif::Metric {
 public:
  explicit TextAlignmentMetric(ClassifierOptions options);
  // Trains the classifier; returns {classifier_heldout_accuracy}.
  std::map<std::string, double> fit(const whatif::Dataset& data, std::uint64_t seed) override;
  void reset() override { correct_.reset(); }
  // item.generated and item.attributes[attribute] (the requested class of each example).
  void update(const whatif::MetricItem& item) override;
  // {text_alignment, classifier_heldout_accuracy}
  std::map<std::string, double> compute() override;

 private:
  AttributeClassifier classifier_;
  double heldout_accuracy_ = 0;
  RunningMean correct_;
};

struct EffectivenessOptions {
  std::string attribute = "lesion_volume_ml";  // the ground-truth quantity the change is measured against
  std::string level = "level";                 // the attribute naming a twin's level
  double delta = 0.1;                          // image units
};

// The change measure on one pair of volumes: millilitres of voxels where
// sign·(source − generated) > delta, sign = +1 when the generated level is higher.
at::Tensor changed_volume_ml(const at::Tensor& source, const at::Tensor& generated, const at::Tensor& sign,
                             double delta, double voxel_ml);

class EffectivenessMetric : public whatif::Metric {
 public:
  explicit EffectivenessMetric(EffectivenessOptions options);
  // Reads the dataset's twin pairs: the voxel volume, the mean true change for every (source
  // level, target level), and how well the measure recovers it on real twins. Returns
  // {measure_real_error_ml, measure_real_ratio, measure_real_correlation}.
  std::map<std::string, double> fit(const whatif::Dataset& data, std::uint64_t seed) override;
  void reset() override;
  // item.generated, item.source, item.attributes[level] (requested) and, optionally,
  // item.attributes["source_" + level] (default 0: the lowest level).
  void update(const whatif::MetricItem& item) override;
  // {effectiveness, effectiveness_measured_ml, effectiveness_expected_ml, effectiveness_error_ml,
  //  effectiveness_opposite_ml}: the last is the volume that changed the other way (brighter for
  //  a higher level), which real twins never show — the noise floor of the measured volume.
  std::map<std::string, double> compute() override;

 private:
  EffectivenessOptions options_;
  double voxel_ml_ = 0;
  std::map<std::pair<long, long>, double> expected_;  // (source level, level) → mean true change, ml
  std::map<std::string, double> real_;
  RunningMean measured_, opposite_, expected_sum_, error_;
};

class ChestChangeMetric : public whatif::Metric {
 public:
  // `window` {} when the volumes are HU; {low, high} when they were mapped low → 0, high → 1
  // (synthetic-chest's `window`): they are mapped back before measuring.
  explicit ChestChangeMetric(std::vector<double> window);
  // Reads the dataset's grid (every volume measured must be on it) and measures its real
  // (baseline, follow-up) pairs: returns {real_<finding>_error_ml}, the measure's own error.
  std::map<std::string, double> fit(const whatif::Dataset& data, std::uint64_t seed) override;
  void reset() override;
  // item.generated (the follow-up twins), item.source (the baseline twins) and item.attributes:
  // the follow-up's attributes under their names, the baseline's under "source_" + name.
  void update(const whatif::MetricItem& item) override;
  // Per finding (effusion_right, effusion_left, consolidation, nodule): <finding>_measured_ml,
  // <finding>_true_ml (mean |true change|), <finding>_error_ml (mean |measured − true|); and
  // chest_change_error_ml, the sum of the four errors.
  std::map<std::string, double> compute() override;

 private:
  at::Tensor hu(const at::Tensor& x) const;
  void add(const at::Tensor& source, const at::Tensor& target, const std::map<std::string, double>& before,
           const std::map<std::string, double>& after, std::map<std::string, RunningMean>& measured,
           std::map<std::string, RunningMean>& truth, std::map<std::string, RunningMean>& error) const;

  std::vector<double> window_;
  std::optional<whatif::data::Geometry> geometry_;
  std::map<std::string, double> real_;
  std::map<std::string, RunningMean> measured_, truth_, error_;
};

struct AugmentationOptions {
  std::vector<std::string> attributes;  // summed per example: the finding's size
  double threshold = 0;                 // positive when the sum exceeds it
  ClassifierOptions classifier;         // its `attribute` is unused
};

class AugmentationUtilityMetric : public whatif::Metric {
 public:
  explicit AugmentationUtilityMetric(AugmentationOptions options);
  // Keeps every example of `data` as the real training set; returns
  // {augmentation_real_examples, augmentation_real_positive_fraction}.
  std::map<std::string, double> fit(const whatif::Dataset& data, std::uint64_t seed) override;
  void reset() override;
  // item.generated: extra training volumes, labelled by item.attributes (what they were asked to
  // show); item.reference: held-out real volumes to test on, labelled by item.attributes (their
  // truth). Either or both; with both, the attributes label each.
  void update(const whatif::MetricItem& item) override;
  // Trains both classifiers and scores the held-out volumes by P(finding):
  // {augmentation_auc_real, augmentation_auc_augmented, augmentation_auc_gain (augmented − real),
  //  augmentation_generated_examples, augmentation_test_examples}.
  std::map<std::string, double> compute() override;

 private:
  std::vector<double> labels(const whatif::MetricItem& item, std::int64_t batch) const;
  double auc(const at::Tensor& train_images, const std::vector<double>& train_labels);

  AugmentationOptions options_;
  std::uint64_t seed_ = 0;
  at::Tensor real_;
  std::vector<double> real_labels_;
  std::vector<at::Tensor> generated_, test_;
  std::vector<double> generated_labels_, test_labels_;
};

}  // namespace whatif_metrics

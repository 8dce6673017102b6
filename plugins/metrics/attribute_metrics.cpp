#include "attribute_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include <ATen/ATen.h>
#include <whatif/data/chest_measures.hpp>
#include <whatif/data/roc_auc.hpp>
#include <whatif/registry/error.hpp>

namespace whatif_metrics {

namespace {

const at::Tensor& required(const whatif::MetricItem& item, const std::string& name, const std::string& metric) {
  const auto it = item.attributes.find(name);
  if (it == item.attributes.end())
    throw whatif::Error(metric + " needs item.attributes." + name + " (the requested value of each example)");
  return it->second;
}

// One value per example: a scalar is broadcast to the batch.
at::Tensor per_example(const at::Tensor& values, std::int64_t batch, const std::string& name) {
  const at::Tensor v = values.to(at::kDouble).flatten();
  if (v.numel() == 1) return v.expand({batch}).contiguous();
  if (v.numel() != batch)
    throw whatif::Error("attribute '" + name + "' has " + std::to_string(v.numel()) + " values for " +
                        std::to_string(batch) + " examples");
  return v;
}

double pearson(const std::vector<double>& x, const std::vector<double>& y) {
  const at::Tensor a = at::tensor(x, at::kDouble), b = at::tensor(y, at::kDouble);
  const at::Tensor da = a - a.mean(), db = b - b.mean();
  const double den = std::sqrt((da * da).sum().item<double>() * (db * db).sum().item<double>());
  return den > 0 ? (da * db).sum().item<double>() / den : 0.0;
}

}  // namespace

TextAlignmentMetric::TextAlignmentMetric(ClassifierOptions options) : classifier_(std::move(options)) {}

std::map<std::string, double> TextAlignmentMetric::fit(const whatif::Dataset& data, std::uint64_t seed) {
  heldout_accuracy_ = classifier_.fit(data, seed);
  return {{"classifier_heldout_accuracy", heldout_accuracy_}};
}

void TextAlignmentMetric::update(const whatif::MetricItem& item) {
  if (!item.generated.defined()) throw whatif::Error("text-alignment needs item.generated in every update");
  const std::int64_t batch = item.generated.size(0);
  const at::Tensor wanted = classifier_.class_index(
      per_example(required(item, classifier_.attribute(), "text-alignment"), batch, classifier_.attribute()));
  correct_.add(classifier_.predict(item.generated).eq(wanted).to(at::kDouble));
}

std::map<std::string, double> TextAlignmentMetric::compute() {
  if (correct_.empty()) throw whatif::Error("text-alignment: nothing to compute; call update with generated volumes");
  return {{"text_alignment", correct_.mean()}, {"classifier_heldout_accuracy", heldout_accuracy_}};
}

at::Tensor changed_volume_ml(const at::Tensor& source, const at::Tensor& generated, const at::Tensor& sign,
                             double delta, double voxel_ml) {
  if (source.sizes() != generated.sizes())
    throw whatif::Error("effectiveness: source and generated differ in shape");
  const at::Tensor d = (source.to(at::kDouble) - generated.to(at::kDouble)).flatten(1);
  return (d * sign.to(at::kDouble).unsqueeze(1)).gt(delta).sum(1).to(at::kDouble) * voxel_ml;
}

EffectivenessMetric::EffectivenessMetric(EffectivenessOptions options) : options_(std::move(options)) {
  if (!(options_.delta > 0)) throw whatif::Error("effectiveness: option 'delta' must be positive");
}

std::map<std::string, double> EffectivenessMetric::fit(const whatif::Dataset& data, std::uint64_t) {
  const auto pairs = data.pairs();
  if (pairs.empty())
    throw whatif::Error("effectiveness needs a dataset with ground-truth twin pairs (such as synthetic-brain)");
  std::map<std::int64_t, whatif::Example> cache;
  const auto example = [&](std::int64_t i) -> const whatif::Example& {
    auto it = cache.find(i);
    if (it == cache.end()) it = cache.emplace(i, data.get(i)).first;
    return it->second;
  };
  const auto attribute = [&](const whatif::Example& e, const std::string& name) {
    const auto it = e.attributes.find(name);
    if (it == e.attributes.end())
      throw whatif::Error("effectiveness: the dataset's examples have no attribute '" + name + "'");
    return it->second;
  };
  std::map<std::pair<long, long>, std::pair<double, int>> sums;
  std::vector<double> measured, truth;
  for (const auto& [a, b] : pairs) {
    const whatif::Example& ea = example(a);
    const whatif::Example& eb = example(b);
    const long la = std::lround(attribute(ea, options_.level)), lb = std::lround(attribute(eb, options_.level));
    if (la == lb) continue;
    voxel_ml_ = ea.spacing[0] * ea.spacing[1] * ea.spacing[2] / 1000.0;
    const double change = std::abs(attribute(eb, options_.attribute) - attribute(ea, options_.attribute));
    const at::Tensor sign = at::full({1}, lb > la ? 1.0 : -1.0, at::kDouble);
    measured.push_back(changed_volume_ml(ea.image.unsqueeze(0), eb.image.unsqueeze(0), sign, options_.delta,
                                         voxel_ml_).item<double>());
    truth.push_back(change);
    auto& s = sums[{la, lb}];
    s.first += change;
    s.second += 1;
  }
  if (truth.empty()) throw whatif::Error("effectiveness: the dataset's pairs never change '" + options_.level + "'");
  expected_.clear();
  for (const auto& [key, s] : sums) expected_[key] = s.first / s.second;
  double error = 0, m = 0, t = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    error += std::abs(measured[i] - truth[i]);
    m += measured[i];
    t += truth[i];
  }
  real_ = {{"measure_real_error_ml", error / static_cast<double>(truth.size())},
           {"measure_real_ratio", t > 0 ? m / t : 0.0},
           {"measure_real_correlation", pearson(measured, truth)}};
  return real_;
}

void EffectivenessMetric::reset() {
  measured_.reset();
  opposite_.reset();
  expected_sum_.reset();
  error_.reset();
}

void EffectivenessMetric::update(const whatif::MetricItem& item) {
  if (expected_.empty())
    throw whatif::Error("effectiveness: call fit(dataset) first (it measures the change real twins show)");
  if (!item.generated.defined() || !item.source.defined())
    throw whatif::Error("effectiveness needs item.generated and item.source in every update");
  const std::int64_t batch = item.generated.size(0);
  const at::Tensor level = per_example(required(item, options_.level, "effectiveness"), batch, options_.level);
  const auto src = item.attributes.find("source_" + options_.level);
  const at::Tensor source_level = src == item.attributes.end()
                                      ? at::zeros({batch}, at::kDouble)
                                      : per_example(src->second, batch, "source_" + options_.level);
  at::Tensor expected = at::empty({batch}, at::kDouble), sign = at::empty({batch}, at::kDouble);
  for (std::int64_t b = 0; b < batch; ++b) {
    const long from = std::lround(source_level[b].item<double>()), to = std::lround(level[b].item<double>());
    const auto it = expected_.find({from, to});
    if (it == expected_.end()) {
      std::ostringstream known;
      for (const auto& [key, v] : expected_) known << " " << key.first << "→" << key.second;
      throw whatif::Error("effectiveness: no real twins go from " + options_.level + " " + std::to_string(from) +
                          " to " + std::to_string(to) + " (known:" + known.str() + ")");
    }
    expected[b] = it->second;
    sign[b] = to > from ? 1.0 : -1.0;
  }
  const at::Tensor measured = changed_volume_ml(item.source, item.generated, sign, options_.delta, voxel_ml_);
  measured_.add(measured);
  opposite_.add(changed_volume_ml(item.source, item.generated, -sign, options_.delta, voxel_ml_));
  expected_sum_.add(expected);
  error_.add((measured - expected).abs());
}

std::map<std::string, double> EffectivenessMetric::compute() {
  if (measured_.empty()) throw whatif::Error("effectiveness: nothing to compute; call update with twins");
  std::map<std::string, double> out = real_;
  out["effectiveness_measured_ml"] = measured_.mean();
  out["effectiveness_opposite_ml"] = opposite_.mean();
  out["effectiveness_expected_ml"] = expected_sum_.mean();
  out["effectiveness_error_ml"] = error_.mean();
  out["effectiveness"] = expected_sum_.mean() > 0 ? measured_.mean() / expected_sum_.mean() : 0.0;
  return out;
}

ChestChangeMetric::ChestChangeMetric(std::vector<double> window) : window_(std::move(window)) {
  if (!window_.empty() && (window_.size() != 2 || !(window_[1] > window_[0])))
    throw whatif::Error("chest-change: option 'window' must be {} (HU) or {low, high} with high > low");
}

at::Tensor ChestChangeMetric::hu(const at::Tensor& x) const {
  const at::Tensor v = x.to(at::kFloat);
  return window_.empty() ? v : v * (window_[1] - window_[0]) + window_[0];
}

namespace {

const char* const kFindings[] = {"effusion_right", "effusion_left", "consolidation", "nodule"};

std::map<std::string, double> findings_of(const whatif::data::ChestChange& c) {
  return {{"effusion_right", c.effusion_ml[0]},
          {"effusion_left", c.effusion_ml[1]},
          {"consolidation", c.consolidation_ml},
          {"nodule", c.nodule_ml}};
}

}  // namespace

void ChestChangeMetric::add(const at::Tensor& source, const at::Tensor& target, const std::map<std::string, double>& before,
                            const std::map<std::string, double>& after, std::map<std::string, RunningMean>& measured,
                            std::map<std::string, RunningMean>& truth, std::map<std::string, RunningMean>& error) const {
  const auto got = findings_of(whatif::data::chest_change(hu(source), hu(target), *geometry_));
  const auto want = findings_of(whatif::data::true_chest_change(before, after));
  for (const char* f : kFindings) {
    const double m = got.at(f), t = want.at(f);
    measured[f].add(at::tensor({m}, at::kDouble));
    truth[f].add(at::tensor({std::abs(t)}, at::kDouble));
    error[f].add(at::tensor({std::abs(m - t)}, at::kDouble));
  }
}

std::map<std::string, double> ChestChangeMetric::fit(const whatif::Dataset& data, std::uint64_t) {
  const auto pairs = data.pairs();
  if (data.size() < 1 || pairs.empty())
    throw whatif::Error("chest-change: fit needs a chest CT dataset with (baseline, follow-up) pairs (synthetic-chest, modality ct)");
  const whatif::Example first = data.get(0);
  if (first.image.dim() != 4 || first.image.size(0) != 1)
    throw whatif::Error("chest-change: fit needs CT volumes [1, D, H, W]; the dataset's are not");
  geometry_ = whatif::data::geometry_of(first);
  std::map<std::string, RunningMean> measured, truth, error;
  for (const auto& [a, b] : pairs) {
    const whatif::Example ea = data.get(a), eb = data.get(b);
    add(ea.image[0], eb.image[0], ea.attributes, eb.attributes, measured, truth, error);
  }
  real_.clear();
  for (const char* f : kFindings) real_[std::string("real_") + f + "_error_ml"] = error[f].mean();
  return real_;
}

void ChestChangeMetric::reset() {
  measured_.clear();
  truth_.clear();
  error_.clear();
}

void ChestChangeMetric::update(const whatif::MetricItem& item) {
  if (!geometry_) throw whatif::Error("chest-change: call fit(dataset) first (it reads the grid the volumes are on)");
  if (!item.generated.defined() || !item.source.defined())
    throw whatif::Error("chest-change needs item.generated (follow-ups) and item.source (baselines) in every update");
  if (item.generated.sizes() != item.source.sizes() || item.generated.dim() != 5 || item.generated.size(1) != 1)
    throw whatif::Error("chest-change: generated and source must be CT volumes [B, 1, D, H, W] of the same shape");
  const std::int64_t batch = item.generated.size(0);
  std::vector<std::map<std::string, double>> before(static_cast<std::size_t>(batch)), after(before);
  for (const auto& [name, values] : item.attributes) {
    const at::Tensor v = per_example(values, batch, name);
    const bool source = name.rfind("source_", 0) == 0;
    for (std::int64_t i = 0; i < batch; ++i)
      (source ? before : after)[static_cast<std::size_t>(i)][source ? name.substr(7) : name] = v[i].item<double>();
  }
  for (std::int64_t i = 0; i < batch; ++i)
    add(item.source[i][0], item.generated[i][0], before[static_cast<std::size_t>(i)], after[static_cast<std::size_t>(i)],
        measured_, truth_, error_);
}

std::map<std::string, double> ChestChangeMetric::compute() {
  if (error_.empty()) throw whatif::Error("chest-change: nothing to compute; call update with twins");
  std::map<std::string, double> out = real_;
  double total = 0;
  for (const char* f : kFindings) {
    const std::string name = f;
    out[name + "_measured_ml"] = measured_.at(name).mean();
    out[name + "_true_ml"] = truth_.at(name).mean();
    out[name + "_error_ml"] = error_.at(name).mean();
    total += error_.at(name).mean();
  }
  out["chest_change_error_ml"] = total;
  return out;
}

AugmentationUtilityMetric::AugmentationUtilityMetric(AugmentationOptions options) : options_(std::move(options)) {
  if (options_.attributes.empty())
    throw whatif::Error("augmentation-utility: option 'attributes' names the finding's attribute(s), summed per example");
  AttributeClassifier check(options_.classifier);  // throws on bad classifier options
}

std::map<std::string, double> AugmentationUtilityMetric::fit(const whatif::Dataset& data, std::uint64_t seed) {
  const auto names = data.attribute_names();
  for (const auto& a : options_.attributes)
    if (std::find(names.begin(), names.end(), a) == names.end())
      throw whatif::Error("augmentation-utility: the dataset has no attribute '" + a + "'");
  if (data.size() < 1) throw whatif::Error("augmentation-utility: the training dataset is empty");
  std::vector<at::Tensor> images;
  real_labels_.clear();
  for (std::int64_t i = 0; i < data.size(); ++i) {
    const whatif::Example e = data.get(i);
    double size = 0;
    for (const auto& a : options_.attributes) size += e.attributes.at(a);
    images.push_back(e.image.to(at::kFloat));
    real_labels_.push_back(size > options_.threshold ? 1.0 : 0.0);
  }
  real_ = at::stack(images);
  seed_ = seed;
  reset();
  const double positives = std::accumulate(real_labels_.begin(), real_labels_.end(), 0.0);
  return {{"augmentation_real_examples", static_cast<double>(real_labels_.size())},
          {"augmentation_real_positive_fraction", positives / static_cast<double>(real_labels_.size())}};
}

void AugmentationUtilityMetric::reset() {
  generated_.clear();
  test_.clear();
  generated_labels_.clear();
  test_labels_.clear();
}

std::vector<double> AugmentationUtilityMetric::labels(const whatif::MetricItem& item, std::int64_t batch) const {
  at::Tensor size = at::zeros({batch}, at::kDouble);
  for (const auto& a : options_.attributes) size = size + per_example(required(item, a, "augmentation-utility"), batch, a);
  const at::Tensor positive = size.gt(options_.threshold).to(at::kDouble).contiguous();
  return {positive.data_ptr<double>(), positive.data_ptr<double>() + batch};
}

void AugmentationUtilityMetric::update(const whatif::MetricItem& item) {
  if (!real_.defined()) throw whatif::Error("augmentation-utility: call fit(dataset) with the real training data first");
  if (!item.generated.defined() && !item.reference.defined())
    throw whatif::Error("augmentation-utility needs item.generated (extra training volumes) or item.reference "
                        "(held-out real volumes) in every update");
  const auto add = [&](const at::Tensor& x, const char* what, std::vector<at::Tensor>& into, std::vector<double>& labels_into) {
    if (x.dim() != real_.dim() || !std::equal(x.sizes().begin() + 1, x.sizes().end(), real_.sizes().begin() + 1)) {
      std::ostringstream out;
      out << "augmentation-utility: " << what << " volumes of shape " << x.sizes() << " do not match the training volumes "
          << real_.sizes().slice(1) << " (per example)";
      throw whatif::Error(out.str());
    }
    const auto l = labels(item, x.size(0));
    into.push_back(x.to(at::kFloat));
    labels_into.insert(labels_into.end(), l.begin(), l.end());
  };
  if (item.generated.defined()) add(item.generated, "generated", generated_, generated_labels_);
  if (item.reference.defined()) add(item.reference, "reference", test_, test_labels_);
}

double AugmentationUtilityMetric::auc(const at::Tensor& train_images, const std::vector<double>& train_labels) {
  AttributeClassifier classifier(options_.classifier);
  classifier.fit(train_images, train_labels, seed_);
  const at::Tensor p = classifier.probabilities(at::cat(test_)).select(1, 1).contiguous();
  std::vector<bool> positive;
  for (const double l : test_labels_) positive.push_back(l > 0.5);
  return whatif::data::roc_auc({p.data_ptr<double>(), p.data_ptr<double>() + p.numel()}, positive);
}

std::map<std::string, double> AugmentationUtilityMetric::compute() {
  if (test_.empty()) throw whatif::Error("augmentation-utility: nothing to test on; update with item.reference (held-out real volumes)");
  const auto classes = [](const std::vector<double>& l, const std::string& what) {
    const double positives = std::accumulate(l.begin(), l.end(), 0.0);
    if (positives == 0 || positives == static_cast<double>(l.size()))
      throw whatif::Error("augmentation-utility: the " + what + " volumes show one class only (" +
                          std::to_string(static_cast<long>(positives)) + " of " + std::to_string(l.size()) +
                          " positive); both are needed");
  };
  classes(real_labels_, "real training");
  classes(test_labels_, "held-out");
  const double real = auc(real_, real_labels_);
  double augmented = real;
  if (!generated_.empty()) {
    std::vector<at::Tensor> parts{real_};
    parts.insert(parts.end(), generated_.begin(), generated_.end());
    std::vector<double> l = real_labels_;
    l.insert(l.end(), generated_labels_.begin(), generated_labels_.end());
    augmented = auc(at::cat(parts), l);
  }
  return {{"augmentation_auc_real", real},
          {"augmentation_auc_augmented", augmented},
          {"augmentation_auc_gain", augmented - real},
          {"augmentation_generated_examples", static_cast<double>(generated_labels_.size())},
          {"augmentation_test_examples", static_cast<double>(test_labels_.size())}};
}

}  // namespace whatif_metrics

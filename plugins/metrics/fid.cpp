#include "fid.hpp"

#include <filesystem>

#include <whatif/registry/error.hpp>

#include <whatif/nn/ssim.hpp>

namespace whatif_metrics {

namespace {

constexpr std::int64_t kIntensityCells = 4;
constexpr std::int64_t kBandCells = 2;
constexpr int kPyramidLevels = 4;
constexpr std::int64_t kSmallestLevel = 8;

at::Tensor cell_means(const at::Tensor& x, std::int64_t cells) {
  const at::Tensor pooled = x.dim() == 4 ? at::adaptive_avg_pool2d(x, {cells, cells})
                                         : at::adaptive_avg_pool3d(x, {cells, cells, cells});
  return pooled.flatten(1);
}

// Drops the last row along each odd spatial axis, so pooling by two and repeating back lines up.
at::Tensor crop_even(at::Tensor x) {
  for (int64_t axis = 2; axis < x.dim(); ++axis) x = x.narrow(axis, 0, x.size(axis) / 2 * 2);
  return x;
}

torch::jit::Module load_extractor(const std::string& path) {
  if (!std::filesystem::exists(path))
    throw whatif::Error("option 'extractor': no TorchScript module at " + path);
  try {
    torch::jit::Module module = torch::jit::load(path);
    if (!module.find_method("forward")) throw whatif::Error(path + " has no forward(x) method");
    module.eval();
    return module;
  } catch (const c10::Error& e) {
    throw whatif::Error("option 'extractor': " + path +
                        " is not a TorchScript module: " + e.what_without_backtrace());
  }
}

}  // namespace

at::Tensor pyramid_features(const at::Tensor& x) {
  if (x.dim() != 4 && x.dim() != 5)
    throw whatif::Error("fid expects [B, C, H, W] or [B, C, D, H, W] volumes, got " +
                        std::to_string(x.dim()) + " dimensions");
  at::Tensor level = x.to(at::kDouble);
  std::vector<at::Tensor> parts{cell_means(level, kIntensityCells)};
  for (int l = 0; l < kPyramidLevels && whatif::nn::smallest_side(level) >= kSmallestLevel; ++l) {
    level = crop_even(level);
    const at::Tensor coarse = whatif::nn::pool_by_two(level);
    at::Tensor expanded = coarse;
    for (int64_t axis = 2; axis < level.dim(); ++axis)
      expanded = expanded.repeat_interleave(2, axis);
    parts.push_back(cell_means((level - expanded).square(), kBandCells).sqrt());
    level = coarse;
  }
  return at::cat(parts, 1);
}

FidMetric::FidMetric(const std::string& extractor, ClassifierOptions classifier)
    : extractor_path_(extractor), classifier_(std::move(classifier)) {
  if (!extractor.empty()) extractor_ = load_extractor(extractor);
}

std::map<std::string, double> FidMetric::fit(const whatif::Dataset& data, std::uint64_t seed) {
  if (extractor_) return {};
  const double accuracy = classifier_.fit(data, seed);
  data_reference_.reset();
  const std::int64_t chunk = 16;
  for (std::int64_t start = 0; start < data.size(); start += chunk) {
    std::vector<at::Tensor> images;
    for (std::int64_t i = start; i < std::min(data.size(), start + chunk); ++i) images.push_back(data.get(i).image);
    data_reference_.add(features(at::stack(images)));
  }
  return {{"classifier_heldout_accuracy", accuracy}};
}

void FidMetric::reset() {
  generated_.reset();
  reference_.reset();
}

at::Tensor FidMetric::features(const at::Tensor& x) {
  if (!extractor_) return classifier_.fitted() ? classifier_.features(x) : pyramid_features(x);
  torch::NoGradGuard no_grad;
  extractor_->to(x.device());
  c10::IValue out;
  try {
    out = extractor_->forward({x.to(at::kFloat)});
  } catch (const c10::Error& e) {
    throw whatif::Error(extractor_path_ + ": forward(x) failed: " + e.what_without_backtrace());
  }
  if (!out.isTensor())
    throw whatif::Error(extractor_path_ + ": forward(x) must return one tensor [B, ...]");
  return out.toTensor().reshape({x.size(0), -1});
}

void FidMetric::update(const whatif::MetricItem& item) {
  if (!item.generated.defined() && !item.reference.defined())
    throw whatif::Error("fid needs item.generated or item.reference (or both) in every update");
  if (item.generated.defined()) generated_.add(features(item.generated));
  if (item.reference.defined()) reference_.add(features(item.reference));
}

std::map<std::string, double> FidMetric::compute() {
  const GaussianFit& reference = reference_.count() > 0 ? reference_ : data_reference_;
  if (generated_.count() < 2 || reference.count() < 2)
    throw whatif::Error("fid needs at least two generated and two reference volumes, got " +
                        std::to_string(generated_.count()) + " and " +
                        std::to_string(reference.count()));
  if (generated_.dims() != reference.dims())
    throw whatif::Error("fid: generated and reference features differ in length (" +
                        std::to_string(generated_.dims()) + " vs " +
                        std::to_string(reference.dims()) + "); give volumes of one shape");
  return {{"fid", frechet_distance(reference.mean(), reference.covariance(), generated_.mean(),
                                   generated_.covariance())}};
}

}  // namespace whatif_metrics

#include "similarity_metrics.hpp"

#include <ATen/ATen.h>
#include <whatif/registry/error.hpp>

#include "similarity.hpp"

namespace whatif_metrics {

namespace {

void check_data_range(double data_range) {
  if (!(data_range > 0))
    throw whatif::Error(
        "option 'data_range' must be positive (max − min of the intensities, "
        "2 for [-1, 1]), got " +
        std::to_string(data_range));
}

void require(const at::Tensor& t, const std::string& metric, const std::string& field) {
  if (!t.defined()) throw whatif::Error(metric + " needs item." + field + " in every update");
}

}  // namespace

void RunningMean::add(const at::Tensor& values) {
  sum_ += values.sum().item<double>();
  count_ += values.numel();
}

PairedSimilarityMetric::PairedSimilarityMetric(std::string key, Similarity similarity,
                                               double data_range)
    : key_(std::move(key)), similarity_(similarity), data_range_(data_range) {
  check_data_range(data_range);
}

void PairedSimilarityMetric::update(const whatif::MetricItem& item) {
  require(item.generated, key_, "generated");
  require(item.reference, key_, "reference");
  values_.add(similarity_(item.generated, item.reference, data_range_));
}

std::map<std::string, double> PairedSimilarityMetric::compute() {
  if (values_.empty())
    throw whatif::Error(key_ + ": nothing to compute; call update with generated and reference");
  return {{key_, values_.mean()}};
}

DiversityMetric::DiversityMetric(double data_range) : data_range_(data_range) {
  check_data_range(data_range);
}

void DiversityMetric::update(const whatif::MetricItem& item) {
  require(item.generated, "diversity", "generated");
  const auto n = item.generated.size(0);
  if (n < 2) return;
  const at::Tensor pairs =
      at::triu_indices(n, n, 1, at::TensorOptions(at::kLong).device(item.generated.device()));
  values_.add(ms_ssim(item.generated.index_select(0, pairs[0]),
                      item.generated.index_select(0, pairs[1]), data_range_));
}

std::map<std::string, double> DiversityMetric::compute() {
  if (values_.empty())
    throw whatif::Error(
        "diversity: no item had two or more samples; put several samples of one "
        "condition in one item's generated batch");
  return {{"diversity_ms_ssim", values_.mean()}};
}

SubjectPreservationMetric::SubjectPreservationMetric(double data_range) : data_range_(data_range) {
  check_data_range(data_range);
}

void SubjectPreservationMetric::reset() {
  for (auto* values : {&source_ms_ssim_, &source_psnr_, &twin_ms_ssim_, &twin_psnr_})
    values->reset();
}

void SubjectPreservationMetric::update(const whatif::MetricItem& item) {
  require(item.generated, "subject-preservation", "generated");
  require(item.source, "subject-preservation", "source");
  source_ms_ssim_.add(ms_ssim(item.generated, item.source, data_range_));
  source_psnr_.add(psnr(item.generated, item.source, data_range_));
  if (item.reference.defined()) {
    twin_ms_ssim_.add(ms_ssim(item.generated, item.reference, data_range_));
    twin_psnr_.add(psnr(item.generated, item.reference, data_range_));
  }
}

std::map<std::string, double> SubjectPreservationMetric::compute() {
  if (source_ms_ssim_.empty())
    throw whatif::Error(
        "subject-preservation: nothing to compute; call update with generated "
        "counterfactuals and their source");
  std::map<std::string, double> out{{"source_ms_ssim", source_ms_ssim_.mean()},
                                    {"source_psnr", source_psnr_.mean()}};
  if (!twin_ms_ssim_.empty()) {
    out["twin_ms_ssim"] = twin_ms_ssim_.mean();
    out["twin_psnr"] = twin_psnr_.mean();
  }
  return out;
}

}  // namespace whatif_metrics

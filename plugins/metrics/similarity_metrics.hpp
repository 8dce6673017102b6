#pragma once
// The metrics built on per-example similarity (similarity.hpp):
//   psnr / ssim / ms-ssim   generated vs reference, averaged over examples;
//   diversity               mean MS-SSIM over pairs of samples in one item (lower = more diverse);
//   subject-preservation    a counterfactual vs its source, and vs its ground-truth twin.
#include <string>

#include <whatif/metric.hpp>

namespace whatif_metrics {

using Similarity = at::Tensor (*)(const at::Tensor&, const at::Tensor&, double data_range);

// Mean of per-example values over every update since the last reset.
class RunningMean {
 public:
  void add(const at::Tensor& values);
  void reset() { *this = RunningMean{}; }
  bool empty() const { return count_ == 0; }
  double mean() const { return sum_ / static_cast<double>(count_); }

 private:
  double sum_ = 0;
  std::int64_t count_ = 0;
};

class PairedSimilarityMetric : public whatif::Metric {
 public:
  PairedSimilarityMetric(std::string key, Similarity similarity, double data_range);
  void reset() override { values_.reset(); }
  void update(const whatif::MetricItem& item) override;
  std::map<std::string, double> compute() override;

 private:
  std::string key_;
  Similarity similarity_;
  double data_range_;
  RunningMean values_;
};

class DiversityMetric : public whatif::Metric {
 public:
  explicit DiversityMetric(double data_range);
  void reset() override { values_.reset(); }
  // Compares every pair of samples within item.generated: put the samples that should differ
  // (several draws for one prompt) in one item.
  void update(const whatif::MetricItem& item) override;
  std::map<std::string, double> compute() override;

 private:
  double data_range_;
  RunningMean values_;
};

class SubjectPreservationMetric : public whatif::Metric {
 public:
  explicit SubjectPreservationMetric(double data_range);
  void reset() override;
  // item.source is required; item.reference, when given, is the ground-truth twin.
  void update(const whatif::MetricItem& item) override;
  std::map<std::string, double> compute() override;

 private:
  double data_range_;
  RunningMean source_ms_ssim_, source_psnr_, twin_ms_ssim_, twin_psnr_;
};

}  // namespace whatif_metrics

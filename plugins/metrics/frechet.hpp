#pragma once
// The Fréchet (2-Wasserstein) distance between Gaussian fits of two feature sets, the core of FID
// (Heusel et al. 2017): d² = ||μ1 − μ2||² + Tr(Σ1 + Σ2 − 2(Σ1Σ2)^½).
#include <ATen/core/Tensor.h>

namespace whatif_metrics {

// Running mean and unbiased covariance of feature vectors, accumulated in float64. Sums are taken
// about the first vector seen, which keeps Σ = (S − s·sᵀ/n)/(n − 1) free of cancellation when the
// features sit far from the origin.
class GaussianFit {
 public:
  void add(const at::Tensor& features);  // [N, F]
  void reset() { *this = GaussianFit{}; }
  std::int64_t count() const { return count_; }
  std::int64_t dims() const { return shift_.defined() ? shift_.size(0) : 0; }
  at::Tensor mean() const;        // [F]
  at::Tensor covariance() const;  // [F, F], needs count() ≥ 2

 private:
  at::Tensor shift_, sum_, outer_;
  std::int64_t count_ = 0;
};

// Means [F] and covariances [F, F] (symmetric positive semi-definite). Computed in float64;
// Tr((Σ1Σ2)^½) comes from eigenvalues of the symmetric Σ1^½ Σ2 Σ1^½, which has the same spectrum
// as Σ1Σ2 and needs no inverse, so singular covariances (fewer samples than features) are fine.
double frechet_distance(const at::Tensor& mean1, const at::Tensor& covariance1,
                        const at::Tensor& mean2, const at::Tensor& covariance2);

}  // namespace whatif_metrics

#include "frechet.hpp"

#include <ATen/ATen.h>
#include <whatif/registry/error.hpp>

namespace whatif_metrics {

namespace {

// V·diag(√max(λ, 0))·Vᵀ: rounding can leave PSD matrices with tiny negative eigenvalues.
at::Tensor symmetric_sqrt(const at::Tensor& s) {
  const auto [values, vectors] = at::linalg_eigh(s);
  return (vectors * values.clamp_min(0).sqrt().unsqueeze(0)).matmul(vectors.transpose(0, 1));
}

}  // namespace

void GaussianFit::add(const at::Tensor& features) {
  if (features.dim() != 2)
    throw whatif::Error("feature batches are [N, F]; got " + std::to_string(features.dim()) +
                        " dimensions");
  if (features.size(0) == 0) return;
  const at::Tensor f = features.to(at::kCPU, at::kDouble);
  if (!shift_.defined()) {
    shift_ = f[0].clone();
    sum_ = at::zeros_like(shift_);
    outer_ = at::zeros({f.size(1), f.size(1)}, f.options());
  } else if (f.size(1) != shift_.size(0)) {
    throw whatif::Error("feature vectors changed length from " + std::to_string(shift_.size(0)) +
                        " to " + std::to_string(f.size(1)) +
                        "; every volume in a Fréchet distance needs one shape");
  }
  const at::Tensor centred = f - shift_;
  sum_ += centred.sum(0);
  outer_ += centred.transpose(0, 1).matmul(centred);
  count_ += f.size(0);
}

at::Tensor GaussianFit::mean() const {
  if (count_ == 0) throw whatif::Error("a Gaussian fit needs at least one sample");
  return shift_ + sum_ / static_cast<double>(count_);
}

at::Tensor GaussianFit::covariance() const {
  if (count_ < 2)
    throw whatif::Error("a covariance needs at least two samples, got " + std::to_string(count_));
  const auto n = static_cast<double>(count_);
  return (outer_ - at::outer(sum_, sum_) / n) / (n - 1);
}

double frechet_distance(const at::Tensor& mean1, const at::Tensor& covariance1,
                        const at::Tensor& mean2, const at::Tensor& covariance2) {
  const at::Tensor mu1 = mean1.to(at::kCPU, at::kDouble);
  const at::Tensor mu2 = mean2.to(at::kCPU, at::kDouble);
  const at::Tensor s1 = covariance1.to(at::kCPU, at::kDouble);
  const at::Tensor s2 = covariance2.to(at::kCPU, at::kDouble);
  const at::Tensor root1 = symmetric_sqrt(s1);
  at::Tensor product = root1.matmul(s2).matmul(root1);
  product = (product + product.transpose(0, 1)) / 2;
  const double trace_sqrt = at::linalg_eigvalsh(product).clamp_min(0).sqrt().sum().item<double>();
  return (mu1 - mu2).square().sum().item<double>() + s1.trace().item<double>() +
         s2.trace().item<double>() - 2 * trace_sqrt;
}

}  // namespace whatif_metrics

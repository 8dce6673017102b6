#include <cmath>
#include <string>

#include <ATen/Functions.h>
#include <whatif/registry/error.hpp>

#include "schedules.hpp"

namespace whatif_schedules {

LinearSchedule::LinearSchedule(double beta_min, double beta_max)
    : beta_min_(beta_min), beta_max_(beta_max) {
  if (!(beta_min >= 0) || !(beta_max > 0) || !(beta_max >= beta_min) || !std::isfinite(beta_max))
    throw whatif::Error("options need 0 <= beta_min <= beta_max and beta_max > 0, got beta_min = " +
                        std::to_string(beta_min) + ", beta_max = " + std::to_string(beta_max));
}

// Song et al. 2021 (score SDE), VP SDE: −log α²(t) = β_min t + ½ (β_max − β_min) t², so
// λ = log(α² / (1 − α²)) = −log(expm1(−log α²)). β ∈ [0.1, 20] is DDPM's 1e-4…0.02 over 1000 steps.
at::Tensor LinearSchedule::logsnr(const at::Tensor& t) const {
  const at::Tensor td = t.to(at::kDouble);
  const at::Tensor integral = beta_min_ * td + 0.5 * (beta_max_ - beta_min_) * td.square();
  return at::expm1(integral).log().neg().to(t.scalar_type());
}

// −log α² = softplus(−λ); solve the quadratic for t in the cancellation-free form 2c / (b + √…).
at::Tensor LinearSchedule::time(const at::Tensor& logsnr) const {
  const at::Tensor integral = at::softplus(logsnr.to(at::kDouble).neg());
  const at::Tensor root = (beta_min_ * beta_min_ + 2 * (beta_max_ - beta_min_) * integral).sqrt();
  return (2 * integral / (beta_min_ + root)).to(logsnr.scalar_type());
}

}  // namespace whatif_schedules

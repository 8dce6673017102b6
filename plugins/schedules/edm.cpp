#include <cmath>
#include <string>

#include <ATen/Functions.h>
#include <whatif/registry/error.hpp>

#include "schedules.hpp"

namespace whatif_schedules {

EdmSchedule::EdmSchedule(double sigma_min, double sigma_max, double rho)
    : sigma_min_(sigma_min), sigma_max_(sigma_max), rho_(rho) {
  if (!(sigma_min > 0) || !(sigma_max > sigma_min) || !(rho > 0) || !std::isfinite(sigma_max))
    throw whatif::Error("options need 0 < sigma_min < sigma_max and rho > 0, got sigma_min = " +
                        std::to_string(sigma_min) + ", sigma_max = " + std::to_string(sigma_max) +
                        ", rho = " + std::to_string(rho));
}

// Karras et al. 2022 (EDM) Eq. 5, with t = 1 − i/(N − 1) so that a uniform grid in t is their
// ρ-spaced discretisation from σ_max to σ_min.
at::Tensor EdmSchedule::sigma(const at::Tensor& t) const {
  const double lo = std::pow(sigma_min_, 1 / rho_);
  const double hi = std::pow(sigma_max_, 1 / rho_);
  return (lo + t.to(at::kDouble) * (hi - lo)).pow(rho_).to(t.scalar_type());
}

// α = 1, so λ = log(1 / σ²) = −2 log σ.
at::Tensor EdmSchedule::logsnr(const at::Tensor& t) const {
  return (-2 * sigma(t.to(at::kDouble)).log()).to(t.scalar_type());
}

at::Tensor EdmSchedule::time(const at::Tensor& logsnr) const {
  const double lo = std::pow(sigma_min_, 1 / rho_);
  const double hi = std::pow(sigma_max_, 1 / rho_);
  const at::Tensor root = at::exp(-0.5 * logsnr.to(at::kDouble) / rho_);  // σ^(1/ρ)
  return ((root - lo) / (hi - lo)).to(logsnr.scalar_type());
}

std::pair<at::Tensor, at::Tensor> EdmSchedule::alpha_sigma(const at::Tensor& t) const {
  return {at::ones_like(t), sigma(t)};
}

}  // namespace whatif_schedules

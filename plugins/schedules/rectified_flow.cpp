#include <cmath>
#include <string>

#include <ATen/Functions.h>
#include <whatif/registry/error.hpp>

#include "schedules.hpp"

namespace whatif_schedules {

RectifiedFlowSchedule::RectifiedFlowSchedule(double shift) : shift_(shift) {
  if (!(shift > 0) || !std::isfinite(shift))
    throw whatif::Error("the time shift r must be positive, got " + std::to_string(shift) +
                        " (check 'scale', 'size' and 'base_size')");
}

// Esser et al. 2024 (Stable Diffusion 3) §5.3.2: t' = r t / (1 + (r − 1) t).
at::Tensor RectifiedFlowSchedule::shifted_time(const at::Tensor& t) const {
  const at::Tensor td = t.to(at::kDouble);
  return (shift_ * td / (1 + (shift_ - 1) * td)).to(t.scalar_type());
}

// Liu et al. 2023 (rectified flow): x_t = (1 − t') x + t' ε, so λ = 2 log((1 − t') / t').
at::Tensor RectifiedFlowSchedule::logsnr(const at::Tensor& t) const {
  const at::Tensor s = shifted_time(t.to(at::kDouble));
  return (2 * (at::log1p(-s) - s.log())).to(t.scalar_type());
}

// t' = sigmoid(−λ / 2); the shift inverts as t = t' / (r − (r − 1) t').
at::Tensor RectifiedFlowSchedule::time(const at::Tensor& logsnr) const {
  const at::Tensor s = at::sigmoid(-0.5 * logsnr.to(at::kDouble));
  return (s / (shift_ - (shift_ - 1) * s)).to(logsnr.scalar_type());
}

std::pair<at::Tensor, at::Tensor> RectifiedFlowSchedule::alpha_sigma(const at::Tensor& t) const {
  const at::Tensor s = shifted_time(t);
  return {1 - s, s};
}

}  // namespace whatif_schedules

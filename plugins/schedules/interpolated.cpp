#include <string>

#include <ATen/Functions.h>
#include <whatif/registry/error.hpp>

#include "schedules.hpp"

namespace whatif_schedules {

InterpolatedSchedule::InterpolatedSchedule(double logsnr_min, double logsnr_max, double shift_low,
                                           double shift_high)
    : low_(logsnr_min, logsnr_max, shift_low), high_(logsnr_min, logsnr_max, shift_high) {
  // dλ/dt = λ'_cos(t) + shift_low − shift_high < 0 needs the low base to shift no less than the
  // high.
  if (!(shift_low <= shift_high))
    throw whatif::Error("option 'base_size_low' must not exceed 'base_size_high'");
}

// Hoogeboom et al. 2023 (Simple Diffusion) §3.1, interpolated schedule.
at::Tensor InterpolatedSchedule::logsnr(const at::Tensor& t) const {
  const at::Tensor td = t.to(at::kDouble);
  return (td * low_.logsnr(td) + (1 - td) * high_.logsnr(td)).to(t.scalar_type());
}

// λ is strictly decreasing, so bisection on [0, 1]; 64 halvings reach double precision. Values of
// λ outside [λ(1), λ(0)] give 1 or 0.
at::Tensor InterpolatedSchedule::time(const at::Tensor& logsnr) const {
  const at::Tensor target = logsnr.to(at::kDouble);
  at::Tensor lo = at::zeros_like(target);
  at::Tensor hi = at::ones_like(target);
  for (int i = 0; i < 64; ++i) {
    const at::Tensor mid = 0.5 * (lo + hi);
    const at::Tensor later = this->logsnr(mid) > target;  // λ(mid) too high: t lies above mid
    lo = at::where(later, mid, lo);
    hi = at::where(later, hi, mid);
  }
  return (0.5 * (lo + hi)).to(logsnr.scalar_type());
}

}  // namespace whatif_schedules

#include <cmath>
#include <string>

#include <ATen/Functions.h>
#include <whatif/registry/error.hpp>

#include "schedules.hpp"

namespace whatif_schedules {

// The angle θ = π t / 2 of Nichol & Dhariwal 2021 runs over [θ_min, θ_max] so that λ = −2 log tan θ
// spans [logsnr_min, logsnr_max] (Hoogeboom et al. 2023, Simple Diffusion, logsnr_schedule_cosine).
CosineSchedule::CosineSchedule(double logsnr_min, double logsnr_max, double shift)
    : angle_min_(std::atan(std::exp(-0.5 * logsnr_max))),
      angle_max_(std::atan(std::exp(-0.5 * logsnr_min))),
      shift_(shift) {
  if (!(logsnr_min < logsnr_max) || !std::isfinite(logsnr_min) || !std::isfinite(logsnr_max))
    throw whatif::Error("options need finite logsnr_min < logsnr_max, got " +
                        std::to_string(logsnr_min) + " and " + std::to_string(logsnr_max));
}

// Simple Diffusion §3.1: the shifted schedule is the cosine one plus log(N_base / N).
at::Tensor CosineSchedule::logsnr(const at::Tensor& t) const {
  const at::Tensor angle = angle_min_ + t.to(at::kDouble) * (angle_max_ - angle_min_);
  return (-2 * at::tan(angle).log() + shift_).to(t.scalar_type());
}

at::Tensor CosineSchedule::time(const at::Tensor& logsnr) const {
  const at::Tensor angle = at::atan(at::exp(-0.5 * (logsnr.to(at::kDouble) - shift_)));
  return ((angle - angle_min_) / (angle_max_ - angle_min_)).to(logsnr.scalar_type());
}

}  // namespace whatif_schedules

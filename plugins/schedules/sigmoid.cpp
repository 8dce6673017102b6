#include <cmath>
#include <string>

#include <ATen/Functions.h>
#include <whatif/registry/error.hpp>

#include "schedules.hpp"

namespace whatif_schedules {
namespace {
double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }
}  // namespace

SigmoidSchedule::SigmoidSchedule(double start, double end, double tau)
    : start_(start),
      end_(end),
      tau_(tau),
      v_start_(sigmoid(start / tau)),
      v_end_(sigmoid(end / tau)) {
  if (!(start < end) || !(tau > 0) || !std::isfinite(start) || !std::isfinite(end))
    throw whatif::Error(
        "options need finite start < end and tau > 0, got start = " + std::to_string(start) +
        ", end = " + std::to_string(end) + ", tau = " + std::to_string(tau));
}

// Chen 2023, "On the importance of noise scheduling for diffusion models", Algorithm 1:
// α² = (v_end − o) / (v_end − v_start), o = sigmoid((t (end − start) + start) / τ), so
// λ = log α² − log(1 − α²) = log(v_end − o) − log(o − v_start) without cancellation.
at::Tensor SigmoidSchedule::logsnr(const at::Tensor& t) const {
  const at::Tensor o = at::sigmoid((t.to(at::kDouble) * (end_ - start_) + start_) / tau_);
  return ((v_end_ - o).log() - (o - v_start_).log()).to(t.scalar_type());
}

// 1 − α² = sigmoid(−λ) gives o = v_start + sigmoid(−λ) (v_end − v_start); invert the sigmoid.
at::Tensor SigmoidSchedule::time(const at::Tensor& logsnr) const {
  const at::Tensor o = v_start_ + at::sigmoid(logsnr.to(at::kDouble).neg()) * (v_end_ - v_start_);
  return ((tau_ * at::logit(o) - start_) / (end_ - start_)).to(logsnr.scalar_type());
}

}  // namespace whatif_schedules

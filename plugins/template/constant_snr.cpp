#include "constant_snr.hpp"

#include <cmath>

#include <ATen/Functions.h>
#include <whatif/registry/error.hpp>

namespace whatif_template {

ConstantSnrSchedule::ConstantSnrSchedule(double snr) : log_snr_(std::log(snr)) {
  if (!(snr > 0) || !std::isfinite(snr))
    throw whatif::Error("option 'snr' must be a positive number, got " + std::to_string(snr));
}

at::Tensor ConstantSnrSchedule::logsnr(const at::Tensor& t) const {
  return at::full_like(t, log_snr_);
}

at::Tensor ConstantSnrSchedule::time(const at::Tensor&) const {
  throw whatif::Error("constant-snr has the same log-SNR at every time, so t(λ) does not exist");
}

}  // namespace whatif_template

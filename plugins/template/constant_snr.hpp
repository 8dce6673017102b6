#pragma once
// A schedule whose log-SNR is the same at every time: λ(t) = log(snr). Not useful for sampling
// (it has no inverse), but it is the smallest complete component: one option, real values.
#include <whatif/schedule.hpp>

namespace whatif_template {

class ConstantSnrSchedule : public whatif::Schedule {
 public:
  explicit ConstantSnrSchedule(double snr);
  at::Tensor logsnr(const at::Tensor& t) const override;
  at::Tensor time(const at::Tensor& logsnr) const override;

 private:
  double log_snr_;
};

}  // namespace whatif_template

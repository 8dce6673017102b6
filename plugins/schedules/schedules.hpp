#pragma once
// The schedule kind's built-ins. Each is a plain function of t: λ(t), its inverse t(λ) and, where
// the process is not variance preserving, (α, σ). Values are computed in double and returned in
// the dtype of the argument. t = 0 is data, t = 1 is noise; λ decreases in t.
#include <cstdint>

#include <whatif/schedule.hpp>

namespace whatif_schedules {

// Continuous-time DDPM: β(t) = β_min + t (β_max − β_min), log α²(t) = −∫₀ᵗ β.
class LinearSchedule : public whatif::Schedule {
 public:
  LinearSchedule(double beta_min, double beta_max);
  at::Tensor logsnr(const at::Tensor& t) const override;
  at::Tensor time(const at::Tensor& logsnr) const override;

 private:
  double beta_min_, beta_max_;
};

// Cosine λ(t) = −2 log tan(π t / 2), t rescaled so that λ spans [logsnr_min, logsnr_max], plus a
// constant shift (0 for `cosine`, log(N_base / N) for `shifted-cosine`).
class CosineSchedule : public whatif::Schedule {
 public:
  CosineSchedule(double logsnr_min, double logsnr_max, double shift);
  at::Tensor logsnr(const at::Tensor& t) const override;
  at::Tensor time(const at::Tensor& logsnr) const override;

 private:
  double angle_min_, angle_max_, shift_;
};

// λ(t) = t λ_s,low(t) + (1 − t) λ_s,high(t): the shift of the lower base size at high noise, of
// the higher base size at low noise. t(λ) has no closed form and is found by bisection.
class InterpolatedSchedule : public whatif::Schedule {
 public:
  InterpolatedSchedule(double logsnr_min, double logsnr_max, double shift_low, double shift_high);
  at::Tensor logsnr(const at::Tensor& t) const override;
  at::Tensor time(const at::Tensor& logsnr) const override;

 private:
  CosineSchedule low_, high_;
};

// α²(t) = (v_end − sigmoid((t (end − start) + start) / τ)) / (v_end − v_start).
class SigmoidSchedule : public whatif::Schedule {
 public:
  SigmoidSchedule(double start, double end, double tau);
  at::Tensor logsnr(const at::Tensor& t) const override;
  at::Tensor time(const at::Tensor& logsnr) const override;

 private:
  double start_, end_, tau_, v_start_, v_end_;
};

// x_t = (1 − t') x + t' ε with the resolution time shift t' = r t / (1 + (r − 1) t).
class RectifiedFlowSchedule : public whatif::Schedule {
 public:
  explicit RectifiedFlowSchedule(double shift);
  at::Tensor logsnr(const at::Tensor& t) const override;
  at::Tensor time(const at::Tensor& logsnr) const override;
  std::pair<at::Tensor, at::Tensor> alpha_sigma(const at::Tensor& t) const override;
  // t' of the formula above.
  at::Tensor shifted_time(const at::Tensor& t) const;

 private:
  double shift_;
};

// x_t = x + σ(t) ε, σ(t) = (σ_min^(1/ρ) + t (σ_max^(1/ρ) − σ_min^(1/ρ)))^ρ.
class EdmSchedule : public whatif::Schedule {
 public:
  EdmSchedule(double sigma_min, double sigma_max, double rho);
  at::Tensor logsnr(const at::Tensor& t) const override;
  at::Tensor time(const at::Tensor& logsnr) const override;
  std::pair<at::Tensor, at::Tensor> alpha_sigma(const at::Tensor& t) const override;
  at::Tensor sigma(const at::Tensor& t) const;

 private:
  double sigma_min_, sigma_max_, rho_;
};

// log(N / N_base) with N = size^spatial_dims, N_base = base_size^spatial_dims: the resolution
// shifts depend on the pixel (voxel) count, so one rule serves 2D and 3D. Validates the options.
double log_resolution_ratio(double size, double base_size, std::int64_t spatial_dims);

}  // namespace whatif_schedules

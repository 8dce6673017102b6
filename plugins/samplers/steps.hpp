#pragma once
// What every sampler shares: the time grid, the noise level at a time, the denoiser call and the
// one-step update of DDIM, all written for a general x_t = α x + σ ε so that the same code serves
// variance-preserving, rectified-flow and EDM schedules.
#include <vector>

#include <whatif/sampler.hpp>
#include <whatif/schedule.hpp>

namespace whatif_samplers {

struct Level {
  double t, alpha, sigma;
  double logsnr() const;       // log(α² / σ²): +∞ at σ = 0, −∞ at α = 0
  double sigma_tilde() const;  // σ / α, EDM's σ for the process x / α
};

Level level_at(const whatif::Schedule& schedule, double t);

// steps + 1 times, uniform from t_start down to t_end. Throws Error on a bad range or steps < 1.
std::vector<double> time_grid(const whatif::SampleOptions& options);

// x̂ at `level`. Where σ = 0, x = α x̂ exactly, so the denoiser is not called.
at::Tensor denoise_at(const whatif::DenoiseFn& denoise, const at::Tensor& x, const Level& level);

// ε̂ = (x − α x̂) / σ; at σ = 0 its limit 0 (ε̂ = −σ ∇log p_t → 0 for a smooth density).
at::Tensor noise_estimate(const at::Tensor& x, const at::Tensor& x0, const Level& level);

// One step from `from` to `to` given x̂: x_to = α_to x̂ + √(σ_to² − c²) ε̂ + c z with
// c = η σ_to √(1 − SNR_from / SNR_to). η = 0 is DDIM (also the Euler step of the probability-flow
// ODE in σ̃ = σ/α); η = 1 samples the exact posterior q(x_to | x_from, x = x̂), i.e. DDPM.
at::Tensor ddim_step(const at::Tensor& x, const at::Tensor& x0, const Level& from, const Level& to,
                     double eta, const whatif::SampleOptions& options);

// Standard normal noise shaped like x, from options.generator when one is given.
at::Tensor gaussian_like(const at::Tensor& x, const whatif::SampleOptions& options);

void report_step(const whatif::SampleOptions& options, std::size_t step);

}  // namespace whatif_samplers

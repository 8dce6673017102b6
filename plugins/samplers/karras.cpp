#include <algorithm>
#include <cmath>
#include <string>

#include <ATen/Functions.h>
#include <whatif/registry/error.hpp>
#include <whatif/schedule.hpp>

#include "samplers.hpp"
#include "steps.hpp"

namespace whatif_samplers {
namespace {

// Karras et al. 2022, Algorithm 2 lines 5–6: raise σ̃ to σ̃ (1 + γ) by adding fresh noise. The
// raised level is the schedule's own at t̂ = t(λ − 2 log(1 + γ)), clamped to t ≤ 1, so x stays on
// the schedule; no churn where σ̃ is 0 or infinite.
Level add_churn(const whatif::Schedule& schedule, at::Tensor& x, const Level& level, double gamma,
                const whatif::SampleOptions& options) {
  if (gamma <= 0 || level.alpha == 0 || level.sigma == 0) return level;
  const double target = level.logsnr() - 2 * std::log1p(gamma);
  const double t_hat =
      std::min(1.0, schedule.time(at::full({1}, target, at::kDouble)).item<double>());
  if (!(t_hat > level.t)) return level;
  const Level hat = level_at(schedule, t_hat);
  const double s = level.sigma_tilde(), s_hat = hat.sigma_tilde();
  if (!std::isfinite(s_hat) || !(s_hat > s)) return level;
  const at::Tensor z = gaussian_like(x, options);
  x = hat.alpha * (x / level.alpha + std::sqrt(s_hat * s_hat - s * s) * z);
  return hat;
}

}  // namespace

KarrasSampler::KarrasSampler(bool second_order, double churn)
    : second_order_(second_order), churn_(churn) {
  if (!(churn >= 0) || !std::isfinite(churn))
    throw whatif::Error("option 'churn' must be >= 0, got " + std::to_string(churn));
}

// In x/α and σ̃ the ODE is d(x/α)/dσ̃ = ε̂, so the Euler step is the DDIM step. Heun adds
// ½ (σ̃_to − σ̃_from) (ε̂_to − ε̂_from), scaled back by α_to; it is skipped into σ = 0 (as Karras)
// and out of α = 0, where σ̃ is infinite (rectified flow at t = 1).
at::Tensor KarrasSampler::sample(const whatif::DenoiseFn& denoise, const whatif::Schedule& schedule,
                                 at::Tensor x, const whatif::SampleOptions& options) const {
  const auto grid = time_grid(options);
  const double gamma = std::min(churn_ / static_cast<double>(options.steps), std::sqrt(2.0) - 1);
  for (std::size_t i = 0; i + 1 < grid.size(); ++i) {
    const Level from = add_churn(schedule, x, level_at(schedule, grid[i]), gamma, options);
    const Level to = level_at(schedule, grid[i + 1]);
    const at::Tensor x0 = denoise_at(denoise, x, from);
    at::Tensor next = ddim_step(x, x0, from, to, 0.0, options);
    if (second_order_ && to.sigma > 0 && from.alpha > 0) {
      const at::Tensor eps = noise_estimate(x, x0, from);
      const at::Tensor eps_next = noise_estimate(next, denoise_at(denoise, next, to), to);
      next = next + 0.5 * (to.sigma - to.alpha * from.sigma_tilde()) * (eps_next - eps);
    }
    x = next;
    report_step(options, i);
  }
  return x;
}

}  // namespace whatif_samplers

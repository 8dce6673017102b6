#include <cmath>

#include "samplers.hpp"
#include "steps.hpp"

namespace whatif_samplers {

// Lu et al. 2022, "DPM-Solver++", Algorithm 2, with their λ = log(α/σ) = half our log-SNR:
//   x_s = (σ_s/σ_t) x_t − α_s (e^(−h) − 1) D,  h = λ_s − λ_t,
//   D = (1 + 1/(2r)) x̂_t − 1/(2r) x̂_prev,  r = h_prev / h.
// First order (D = x̂_t) on the first step, after a step from α = 0 (h_prev infinite) and on a
// final step to σ = 0, as in k-diffusion.
at::Tensor DpmSolverPlusPlus2MSampler::sample(const whatif::DenoiseFn& denoise,
                                              const whatif::Schedule& schedule, at::Tensor x,
                                              const whatif::SampleOptions& options) const {
  const auto grid = time_grid(options);
  at::Tensor previous;
  double h_previous = INFINITY;
  for (std::size_t i = 0; i + 1 < grid.size(); ++i) {
    const Level from = level_at(schedule, grid[i]);
    const Level to = level_at(schedule, grid[i + 1]);
    const at::Tensor x0 = denoise_at(denoise, x, from);
    const double h = 0.5 * (to.logsnr() - from.logsnr());
    at::Tensor d = x0;
    if (previous.defined() && std::isfinite(h_previous) && to.sigma > 0) {
      const double r = h_previous / h;
      d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * previous;
    }
    x = (to.sigma / from.sigma) * x - to.alpha * std::expm1(-h) * d;
    previous = x0;
    h_previous = h;
    report_step(options, i);
  }
  return x;
}

}  // namespace whatif_samplers

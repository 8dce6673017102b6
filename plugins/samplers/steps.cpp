#include "steps.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include <ATen/Functions.h>
#include <whatif/registry/error.hpp>

namespace whatif_samplers {

double Level::logsnr() const { return 2 * (std::log(alpha) - std::log(sigma)); }

double Level::sigma_tilde() const { return sigma / alpha; }

Level level_at(const whatif::Schedule& schedule, double t) {
  const auto [alpha, sigma] = schedule.alpha_sigma(at::full({1}, t, at::kDouble));
  return {t, alpha.item<double>(), sigma.item<double>()};
}

std::vector<double> time_grid(const whatif::SampleOptions& options) {
  const double t0 = options.t_start, t1 = options.t_end;
  if (options.steps < 1)
    throw whatif::Error("sampling needs steps >= 1, got " + std::to_string(options.steps));
  if (!(0 <= t1 && t1 < t0 && t0 <= 1))
    throw whatif::Error("sampling needs 0 <= t_end < t_start <= 1, got t_start = " +
                        std::to_string(t0) + ", t_end = " + std::to_string(t1));
  std::vector<double> grid(static_cast<std::size_t>(options.steps) + 1);
  for (std::size_t i = 0; i < grid.size(); ++i)
    grid[i] = t0 + (t1 - t0) * static_cast<double>(i) / static_cast<double>(options.steps);
  grid.back() = t1;
  return grid;
}

at::Tensor denoise_at(const whatif::DenoiseFn& denoise, const at::Tensor& x, const Level& level) {
  if (level.sigma == 0) return x / level.alpha;
  const auto dtype = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  return denoise(x, at::full({x.size(0)}, level.t, x.options().dtype(dtype)));
}

at::Tensor noise_estimate(const at::Tensor& x, const at::Tensor& x0, const Level& level) {
  if (level.sigma == 0) return at::zeros_like(x);
  return (x - level.alpha * x0) / level.sigma;
}

// Song et al. 2021 (DDIM) Eq. 12, with the posterior of Kingma et al. 2021 (VDM) Eq. 32 for any
// (α, σ): Var[x_to | x_from, x] = σ_to² (1 − SNR_from / SNR_to).
at::Tensor ddim_step(const at::Tensor& x, const at::Tensor& x0, const Level& from, const Level& to,
                     double eta, const whatif::SampleOptions& options) {
  const at::Tensor eps = noise_estimate(x, x0, from);
  const double snr_ratio = std::exp(from.logsnr() - to.logsnr());
  const double c = eta == 0 ? 0.0 : eta * to.sigma * std::sqrt(std::max(0.0, 1 - snr_ratio));
  at::Tensor next = to.alpha * x0 + std::sqrt(std::max(0.0, to.sigma * to.sigma - c * c)) * eps;
  if (c > 0) next = next + c * gaussian_like(x, options);
  return next;
}

at::Tensor gaussian_like(const at::Tensor& x, const whatif::SampleOptions& options) {
  if (options.generator) return at::randn(x.sizes(), *options.generator, x.options());
  return at::randn(x.sizes(), x.options());
}

void report_step(const whatif::SampleOptions& options, std::size_t step) {
  if (options.on_step) options.on_step(static_cast<std::int64_t>(step) + 1, options.steps);
}

}  // namespace whatif_samplers

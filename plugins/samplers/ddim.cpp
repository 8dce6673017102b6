#include <cmath>
#include <string>

#include <whatif/registry/error.hpp>

#include "samplers.hpp"
#include "steps.hpp"

namespace whatif_samplers {

DdimSampler::DdimSampler(double eta) : eta_(eta) {
  if (!(eta >= 0 && eta <= 1))
    throw whatif::Error("option 'eta' must lie in [0, 1], got " + std::to_string(eta));
}

at::Tensor DdimSampler::sample(const whatif::DenoiseFn& denoise, const whatif::Schedule& schedule,
                               at::Tensor x, const whatif::SampleOptions& options) const {
  const auto grid = time_grid(options);
  for (std::size_t i = 0; i + 1 < grid.size(); ++i) {
    const Level from = level_at(schedule, grid[i]);
    const Level to = level_at(schedule, grid[i + 1]);
    x = ddim_step(x, denoise_at(denoise, x, from), from, to, eta_, options);
    report_step(options, i);
  }
  return x;
}

// DDIM inversion (Song et al. 2021 §4.3; Dhariwal & Nichol 2021 App. F): the η = 0 step run
// upwards on the same grid, with x̂ taken where the step starts.
at::Tensor DdimSampler::invert(const whatif::DenoiseFn& denoise, const whatif::Schedule& schedule,
                               at::Tensor x, const whatif::SampleOptions& options) const {
  if (!invertible())
    throw whatif::Error("ddim inverts only when deterministic: set eta = 0 (got " +
                        std::to_string(eta_) + ")");
  const auto grid = time_grid(options);
  for (std::size_t i = grid.size() - 1; i > 0; --i) {
    const Level from = level_at(schedule, grid[i]);
    const Level to = level_at(schedule, grid[i - 1]);
    x = ddim_step(x, denoise_at(denoise, x, from), from, to, 0.0, options);
    report_step(options, grid.size() - 1 - i);
  }
  return x;
}

}  // namespace whatif_samplers

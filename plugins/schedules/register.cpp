// The schedules plugin's registration (formulas and tests: docs/schedules-samplers.md).
#include <cmath>

#include <whatif/registry/plugin.hpp>
#include <whatif/registry/registry.hpp>

#include "schedules.hpp"

namespace {

using whatif::Options;
using whatif::OptionType;
using whatif::Schedule;
using namespace whatif_schedules;

const whatif::OptionSpec kLogsnrMin{"logsnr_min", OptionType::Double, -15.0,
                                    "λ at t = 1 (the cosine is clipped here)"};
const whatif::OptionSpec kLogsnrMax{"logsnr_max", OptionType::Double, 15.0,
                                    "λ at t = 0 (the cosine is clipped here)"};
const whatif::OptionSpec kSize{"size", OptionType::Int, std::int64_t{64},
                               "side of the image or volume being diffused, in pixels/voxels"};
const whatif::OptionSpec kSpatialDims{"spatial_dims", OptionType::Int, std::int64_t{3},
                                      "2 for images, 3 for volumes (N = size^spatial_dims)"};

double resolution_ratio(const Options& o, const std::string& base_key) {
  return log_resolution_ratio(static_cast<double>(o.get_int("size")),
                              static_cast<double>(o.get_int(base_key)), o.get_int("spatial_dims"));
}

void register_components(whatif::Registry& registry) {
  registry.add<Schedule>(
      "schedule", "linear", "DDPM's linear β in continuous time (VP SDE)",
      {{"beta_min", OptionType::Double, 0.1, "β at t = 0 (DDPM's 1e-4 × 1000 steps)"},
       {"beta_max", OptionType::Double, 20.0, "β at t = 1 (DDPM's 0.02 × 1000 steps)"}},
      [](const Options& o) {
        return std::make_shared<LinearSchedule>(o.get_double("beta_min"), o.get_double("beta_max"));
      });
  registry.add<Schedule>("schedule", "cosine",
                         "λ = −2 log tan(π t / 2), clipped to [logsnr_min, logsnr_max]",
                         {kLogsnrMin, kLogsnrMax}, [](const Options& o) {
                           return std::make_shared<CosineSchedule>(o.get_double("logsnr_min"),
                                                                   o.get_double("logsnr_max"), 0.0);
                         });
  registry.add<Schedule>(
      "schedule", "shifted-cosine", "cosine + log(N_base / N): Simple Diffusion's resolution shift",
      {kLogsnrMin,
       kLogsnrMax,
       {"base_size", OptionType::Int, std::int64_t{64}, "side at which the cosine is unshifted"},
       kSize,
       kSpatialDims},
      [](const Options& o) {
        return std::make_shared<CosineSchedule>(o.get_double("logsnr_min"),
                                                o.get_double("logsnr_max"),
                                                -resolution_ratio(o, "base_size"));
      });
  registry.add<Schedule>(
      "schedule", "interpolated",
      "t·λ_shifted(base_size_low) + (1 − t)·λ_shifted(base_size_high) (Simple Diffusion)",
      {kLogsnrMin,
       kLogsnrMax,
       {"base_size_low", OptionType::Int, std::int64_t{32}, "base side of the shift used at t = 1"},
       {"base_size_high", OptionType::Int, std::int64_t{256},
        "base side of the shift used at t = 0"},
       kSize,
       kSpatialDims},
      [](const Options& o) {
        return std::make_shared<InterpolatedSchedule>(
            o.get_double("logsnr_min"), o.get_double("logsnr_max"),
            -resolution_ratio(o, "base_size_low"), -resolution_ratio(o, "base_size_high"));
      });
  registry.add<Schedule>("schedule", "sigmoid",
                         "α² from a scaled sigmoid of t (Chen 2023; Jabri et al. 2023)",
                         {{"start", OptionType::Double, -3.0, "sigmoid input at t = 0"},
                          {"end", OptionType::Double, 3.0, "sigmoid input at t = 1"},
                          {"tau", OptionType::Double, 1.0, "temperature (> 0)"}},
                         [](const Options& o) {
                           return std::make_shared<SigmoidSchedule>(
                               o.get_double("start"), o.get_double("end"), o.get_double("tau"));
                         });
  registry.add<Schedule>(
      "schedule", "rectified-flow",
      "x_t = (1 − t') x + t' ε, t' = r t / (1 + (r − 1) t), r = (N / "
      "N_base)^(1/spatial_dims)·scale",
      {{"base_size", OptionType::Int, std::int64_t{64}, "side at which the time is unshifted"},
       kSize,
       kSpatialDims,
       {"scale", OptionType::Double, 1.0, "extra factor on the shift r (> 0)"}},
      [](const Options& o) {
        const double dims = static_cast<double>(o.get_int("spatial_dims"));
        const double r = std::exp(resolution_ratio(o, "base_size") / dims) * o.get_double("scale");
        return std::make_shared<RectifiedFlowSchedule>(r);
      });
  registry.add<Schedule>(
      "schedule", "edm", "x_t = x + σ ε, σ(t) ρ-interpolated from sigma_min to sigma_max (Karras)",
      {{"sigma_min", OptionType::Double, 0.002, "σ at t = 0"},
       {"sigma_max", OptionType::Double, 80.0, "σ at t = 1"},
       {"rho", OptionType::Double, 7.0, "ρ of the interpolation (> 0)"}},
      [](const Options& o) {
        return std::make_shared<EdmSchedule>(o.get_double("sigma_min"), o.get_double("sigma_max"),
                                             o.get_double("rho"));
      });
}

}  // namespace

WHATIF_PLUGIN("schedules", "0.1.0", register_components)

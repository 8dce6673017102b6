// The plugin's one registration function and its ABI entry.
#include <whatif/registry/plugin.hpp>
#include <whatif/registry/registry.hpp>

#include "constant_snr.hpp"
#include "tiny_cnn.hpp"

namespace {

void register_components(whatif::Registry& registry) {
  registry.add<whatif::Schedule>(
      "schedule", "constant-snr", "the same signal-to-noise ratio at every time (a template)",
      {{"snr", whatif::OptionType::Double, 1.0, "signal-to-noise ratio α²/σ² (> 0)"}},
      [](const whatif::Options& o) {
        return std::make_shared<whatif_template::ConstantSnrSchedule>(o.get_double("snr"));
      });
  registry.add<whatif::Denoiser>(
      "denoiser", "tiny-cnn", "conv, noise-modulated GroupNorm-SiLU, conv: whatif::nn layers in a plugin",
      {{"spatial_dims", whatif::OptionType::Int, std::int64_t{2}, "2 or 3"},
       {"channels", whatif::OptionType::Int, std::int64_t{1}, "image channels in and out"},
       {"width", whatif::OptionType::Int, std::int64_t{16}, "hidden channels"}},
      [](const whatif::Options& o) {
        return std::make_shared<whatif_template::TinyCnnDenoiser>(
            static_cast<int>(o.get_int("spatial_dims")), o.get_int("channels"), o.get_int("width"));
      });
}

}  // namespace

WHATIF_PLUGIN("template", "0.1.0", register_components)

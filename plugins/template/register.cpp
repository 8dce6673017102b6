// The plugin's one registration function and its ABI entry.
#include <whatif/registry/plugin.hpp>
#include <whatif/registry/registry.hpp>

#include "constant_snr.hpp"

namespace {

void register_components(whatif::Registry& registry) {
  registry.add<whatif::Schedule>(
      "schedule", "constant-snr", "the same signal-to-noise ratio at every time (a template)",
      {{"snr", whatif::OptionType::Double, 1.0, "signal-to-noise ratio α²/σ² (> 0)"}},
      [](const whatif::Options& o) {
        return std::make_shared<whatif_template::ConstantSnrSchedule>(o.get_double("snr"));
      });
}

}  // namespace

WHATIF_PLUGIN("template", "0.1.0", register_components)

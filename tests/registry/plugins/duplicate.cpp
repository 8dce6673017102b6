// A plugin registering a name the template plugin already owns.
#include <whatif/registry/plugin.hpp>
#include <whatif/registry/registry.hpp>

namespace {
void register_components(whatif::Registry& registry) {
  registry.add(whatif::FactoryEntry{
      "schedule", "constant-snr", "a second constant-snr", {},
      [](const whatif::Options&) { return std::make_shared<whatif::Component>(); }, {}, {}, {}});
}
}  // namespace

WHATIF_PLUGIN("duplicate", "0.0.1", register_components)

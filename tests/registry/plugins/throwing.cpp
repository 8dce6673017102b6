// A plugin whose factory throws: the registry must name the plugin in the error.
#include <stdexcept>

#include <whatif/registry/plugin.hpp>
#include <whatif/registry/registry.hpp>

namespace {
void register_components(whatif::Registry& registry) {
  registry.add(whatif::FactoryEntry{
      "metric", "throws", "always fails", {},
      [](const whatif::Options&) -> std::shared_ptr<whatif::Component> {
        throw std::runtime_error("boom");
      },
      {}, {}, {}});
}
}  // namespace

WHATIF_PLUGIN("throwing", "0.0.1", register_components)

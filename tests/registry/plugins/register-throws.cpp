// A plugin whose registration fails half-way: nothing it added may stay registered.
#include <stdexcept>

#include <whatif/registry/plugin.hpp>
#include <whatif/registry/registry.hpp>

namespace {
void register_components(whatif::Registry& registry) {
  registry.add(whatif::FactoryEntry{
      "metric", "half-registered", "added before the failure", {},
      [](const whatif::Options&) { return std::make_shared<whatif::Component>(); }, {}, {}, {}});
  throw std::runtime_error("cannot find my model file");
}
}  // namespace

WHATIF_PLUGIN("register-throws", "0.0.1", register_components)

// A plugin claiming an ABI version this whatif does not speak.
#include <whatif/registry/plugin.hpp>

namespace {
void register_nothing(whatif::Registry&) {}
const whatif::PluginInfo* info() {
  static const whatif::PluginInfo plugin{999, WHATIF_INTERFACE_HASH, "bad-abi", "0.0.1",
                                         &register_nothing};
  return &plugin;
}
}  // namespace

BOOST_DLL_ALIAS(info, whatif_plugin)

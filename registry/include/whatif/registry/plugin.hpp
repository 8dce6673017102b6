#pragma once
// The plugin ABI: everything a plugin library exports is one C symbol, `whatif_plugin`, a Boost.DLL
// alias of a function returning a PluginInfo. The host refuses a plugin whose ABI version or
// interface hash (a hash of the public headers, computed at build time) differs from its own.
//
//   WHATIF_PLUGIN("my-plugin", "0.1.0", register_components)
//
// with `void register_components(whatif::Registry&)` adding the plugin's factories.
#include <cstdint>

#include <boost/dll/alias.hpp>

#include "whatif/interface_hash.hpp"

namespace whatif {

class Registry;

// Bumped when PluginInfo or the loading protocol changes.
inline constexpr std::uint32_t kAbiVersion = 1;

struct PluginInfo {
  std::uint32_t abi_version;
  const char* interface_hash;
  const char* name;
  const char* version;
  void (*register_fn)(Registry&);
};

using PluginEntry = const PluginInfo*();

// The exported alias every plugin library carries (see WHATIF_PLUGIN).
inline constexpr const char* kPluginEntrySymbol = "whatif_plugin";

}  // namespace whatif

#define WHATIF_PLUGIN(NAME, VERSION, REGISTER_FN)                                              \
  namespace {                                                                                  \
  const ::whatif::PluginInfo* whatif_plugin_info_() {                                          \
    static const ::whatif::PluginInfo info{::whatif::kAbiVersion, WHATIF_INTERFACE_HASH, NAME, \
                                           VERSION, &REGISTER_FN};                             \
    return &info;                                                                              \
  }                                                                                            \
  }                                                                                            \
  BOOST_DLL_ALIAS(whatif_plugin_info_, whatif_plugin)

#pragma once
// A registry shared by a test executable, loading the build's in-tree plugins by name.
#include <string>

#include "whatif/registry/registry.hpp"

namespace whatif::test {

inline Registry& registry() {
  static auto* instance = new Registry();
  return *instance;
}

// Loads build/plugins/libwhatif-plugin-NAME.so once.
inline void load(const std::string& plugin) {
  registry().load(std::string(WHATIF_PLUGIN_DIR) + "/libwhatif-plugin-" + plugin + ".so");
}

template <class T>
std::shared_ptr<T> make(const std::string& kind, const std::string& name,
                        const std::vector<std::string>& options = {}) {
  return registry().create_as<T>(kind, name, Options::from_strings(options));
}

}  // namespace whatif::test

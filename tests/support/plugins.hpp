#pragma once
// A registry shared by a test executable, loading the build's in-tree plugins by name.
#include <initializer_list>
#include <string>

#include "whatif/registry/registry.hpp"

namespace whatif::test {

inline Registry& registry() {
  static auto* instance = new Registry();
  return *instance;
}

// build/plugins/libwhatif-plugin-NAME.so
inline std::string plugin_path(const std::string& plugin) {
  return std::string(WHATIF_PLUGIN_DIR) + "/libwhatif-plugin-" + plugin + ".so";
}

// Loads the in-tree plugin NAME into the shared registry once.
inline void load(const std::string& plugin) { registry().load(plugin_path(plugin)); }

// Loads several; returns true, so a file can load its plugins at start-up with WHATIF_TEST_PLUGINS.
inline bool load_all(std::initializer_list<const char*> plugins) {
  for (const char* p : plugins) load(p);
  return true;
}

template <class T>
std::shared_ptr<T> make(const std::string& kind, const std::string& name,
                        const std::vector<std::string>& options = {}) {
  return registry().create_as<T>(kind, name, Options::from_strings(options));
}

}  // namespace whatif::test

// WHATIF_TEST_PLUGINS("encoders", "metrics"): the file's plugins, loaded before any test case runs.
// Each use gets its own name, so files compiled together (unity builds) do not collide.
#define WHATIF_TEST_CONCAT_(a, b) a##b
#define WHATIF_TEST_CONCAT(a, b) WHATIF_TEST_CONCAT_(a, b)
#define WHATIF_TEST_PLUGINS(...) \
  [[maybe_unused]] static const bool WHATIF_TEST_CONCAT(whatif_test_plugins_, __COUNTER__) = \
      ::whatif::test::load_all({__VA_ARGS__})

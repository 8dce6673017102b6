#pragma once
// The catalog of components: (kind, name) -> factory, doc and options schema. Built-in components
// are added explicitly; plugin libraries add theirs through their register function.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "whatif/registry/component.hpp"
#include "whatif/registry/error.hpp"
#include "whatif/registry/options.hpp"

namespace whatif {

using Factory = std::function<std::shared_ptr<Component>(const Options&)>;

struct FactoryEntry {
  std::string kind;
  std::string name;
  std::string doc;  // one line
  Schema schema;
  Factory make;
  // Filled by the registry from the plugin being registered.
  std::string plugin;
  std::string version;
  std::string library;
};

struct LoadedPlugin {
  std::string name;
  std::string version;
  std::string library;
  std::string interface_hash;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Adds a factory. A duplicate (kind, name) throws, naming both libraries.
  void add(FactoryEntry entry);

  // Convenience for plugins: add(kind, name, doc, schema, factory).
  template <class T>
  void add(std::string kind, std::string name, std::string doc, Schema schema,
           std::function<std::shared_ptr<T>(const Options&)> make) {
    add(FactoryEntry{std::move(kind), std::move(name), std::move(doc), std::move(schema),
                     [make = std::move(make)](const Options& o) -> std::shared_ptr<Component> {
                       return make(o);
                     },
                     {}, {}, {}});
  }

  // Loads one plugin library; throws Error (one line) if it cannot be loaded or is refused.
  const LoadedPlugin& load(const std::string& path);
  // Loads every `*.so` in `dir` whose name starts with `whatif-plugin-`; returns how many.
  int load_directory(const std::string& dir);

  bool contains(const std::string& kind, const std::string& name) const;
  // Throws Error with "did you mean" for unknown kinds and names.
  const FactoryEntry& find(const std::string& kind, const std::string& name) const;
  std::vector<const FactoryEntry*> entries() const;  // sorted by kind, then name
  std::vector<std::string> names(const std::string& kind) const;
  const std::vector<LoadedPlugin>& plugins() const { return plugins_; }

  // Builds a component: resolves `options` against the schema, calls the factory (guarded: an
  // exception becomes an Error naming the plugin), stamps identity and hyperparameters, and
  // refuses explicit options the factory never read.
  std::shared_ptr<Component> create(const std::string& kind, const std::string& name,
                                    const Options& options) const;

  template <class T>
  std::shared_ptr<T> create_as(const std::string& kind, const std::string& name,
                               const Options& options) const {
    auto object = create(kind, name, options);
    auto typed = std::dynamic_pointer_cast<T>(object);
    if (!typed) throw Error(kind + "/" + name + " does not implement the " + kind + " interface");
    return typed;
  }

  // The kinds of DESIGN.md §4 — the only values `kind` may take.
  static const std::vector<std::string>& kinds();

 private:
  std::map<std::pair<std::string, std::string>, FactoryEntry> entries_;
  std::vector<LoadedPlugin> plugins_;
  // Set while a plugin's register function runs, so its entries are attributed to it.
  const LoadedPlugin* registering_ = nullptr;
};

}  // namespace whatif

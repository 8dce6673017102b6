#pragma once
// Base of every object a plugin registers. The registry stamps each object with its identity and
// resolved options, so `hyperparams()` is exactly what provenance stores.
#include <string>

#include "whatif/registry/options.hpp"

namespace whatif {

struct ComponentIdentity {
  std::string kind;     // "schedule"
  std::string name;     // "constant-snr"
  std::string plugin;   // plugin name from its PluginInfo ("builtin" for host-registered ones)
  std::string version;  // plugin version
  std::string library;  // path of the shared library, "" for host-registered ones

  std::string label() const { return kind + "/" + name; }  // "schedule/constant-snr"
};

class Component {
 public:
  virtual ~Component();

  const ComponentIdentity& identity() const { return identity_; }
  // The resolved options this object was built with (defaults filled in).
  const Options& hyperparams() const { return hyperparams_; }

  // Called by the registry right after the factory returns.
  void stamp(ComponentIdentity identity, Options hyperparams);

 private:
  ComponentIdentity identity_;
  Options hyperparams_;
};

}  // namespace whatif

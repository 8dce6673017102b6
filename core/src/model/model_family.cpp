#include "whatif/model_family.hpp"

#include <mutex>

#include "whatif/registry/suggest.hpp"

namespace whatif {

ModelFamily diffusion_family();       // diffusion/diffusion_family.cpp
ModelFamily autoregressive_family();  // autoregress/autoregressive_family.cpp
ModelFamily clip_family();            // clip/clip_family.cpp

namespace {

// The built-in families, registered explicitly here; others are added by register_model_family.
std::map<std::string, ModelFamily>& families() {
  static std::map<std::string, ModelFamily> table = [] {
    std::map<std::string, ModelFamily> t;
    for (ModelFamily f : {diffusion_family(), autoregressive_family(), clip_family()}) t.emplace(f.name, std::move(f));
    return t;
  }();
  return table;
}

std::mutex& families_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace

void register_model_family(ModelFamily family) {
  std::lock_guard<std::mutex> lock(families_mutex());
  if (family.name.empty() || !family.make) throw Error("register_model_family: a family needs a name and a factory");
  const std::string name = family.name;
  if (!families().emplace(name, std::move(family)).second)
    throw Error("model family '" + name + "' is registered twice");
}

const ModelFamily& model_family(const std::string& name) {
  std::lock_guard<std::mutex> lock(families_mutex());
  const auto it = families().find(name);
  if (it == families().end()) {
    std::vector<std::string> names;
    for (const auto& [n, f] : families()) names.push_back(n);
    throw Error("unknown model family '" + name + "'" + did_you_mean(name, names));
  }
  return it->second;
}

std::vector<std::string> model_family_names() {
  std::lock_guard<std::mutex> lock(families_mutex());
  std::vector<std::string> names;
  for (const auto& [n, f] : families()) names.push_back(n);
  return names;
}

}  // namespace whatif

#pragma once
// Model families by name: what `whatif.model(name, {...})` (and the shortcut `whatif.<name>{...}`)
// builds in a script. A family names the parts it takes (components built through the registry),
// its own options (a schema), and the sampling options its generate/counterfactual read; its
// factory builds a whatif::Model from them. A new family is one class implementing whatif::Model
// and one call:
//
//   whatif::register_model_family({"mean", "the data mean, for tests", {"encoder"}, {}, {"seed"},
//                                  [](const whatif::ModelParts& p) { return std::make_shared<Mean>(); }});
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "whatif/model.hpp"
#include "whatif/registry/component.hpp"
#include "whatif/registry/error.hpp"
#include "whatif/registry/options.hpp"

namespace whatif {

// What a family's constructor was given.
struct ModelParts {
  std::string family;
  std::map<std::string, std::shared_ptr<Component>> parts;
  Options options;  // resolved against the family's schema

  // The part `name` as kind T; null when absent and not `required`. Throws Error naming the part.
  template <class T>
  std::shared_ptr<T> get(const std::string& name, bool required) const {
    const auto it = parts.find(name);
    if (it == parts.end()) {
      if (required) throw Error("whatif." + family + ": '" + name + "' is required");
      return nullptr;
    }
    auto typed = std::dynamic_pointer_cast<T>(it->second);
    if (!typed) throw Error("whatif." + family + ": '" + name + "' is a component of another kind");
    return typed;
  }
};

struct ModelFamily {
  std::string name;
  std::string doc;
  std::vector<std::string> parts;   // the components it takes, by field name
  Schema options;                   // its other options
  std::set<std::string> sampling;   // Sampling fields (requests.hpp) its generate reads
  std::function<std::shared_ptr<Model>(const ModelParts&)> make;
};

// Adds a family; a second family of the same name is an error.
void register_model_family(ModelFamily family);
// The family `name`; an unknown name throws Error with the closest known one.
const ModelFamily& model_family(const std::string& name);
std::vector<std::string> model_family_names();

}  // namespace whatif

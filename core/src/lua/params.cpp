#include "lua/params.hpp"

#include "whatif/registry/error.hpp"
#include "whatif/registry/suggest.hpp"

namespace whatif {
namespace {

std::vector<std::string> names_of(const std::map<std::string, Value>& values) {
  std::vector<std::string> names;
  for (const auto& [k, v] : values) names.push_back(k);
  return names;
}

std::string unknown_param(const std::string& where, const std::string& key,
                          const std::vector<std::string>& names) {
  std::string message = where + ": unknown parameter '" + key + "'";
  const std::string best = closest_name(key, names);
  if (!best.empty()) return message + " (did you mean '" + best + "'?)";
  message += " (parameters:";
  for (const auto& n : names) message += " " + n;
  return message + ")";
}

}  // namespace

std::map<std::string, Value> resolve_params(const ParamDecl& decl, const std::string& preset,
                                            const std::vector<std::string>& sets) {
  std::map<std::string, Value> resolved = decl.defaults;
  const auto names = names_of(decl.defaults);
  if (!preset.empty()) {
    const auto it = decl.presets.find(preset);
    if (it == decl.presets.end()) {
      std::string message = "--preset " + preset + ": unknown preset";
      if (decl.presets.empty()) throw Error(message + " (the script declares no presets)");
      std::vector<std::string> known;
      for (const auto& [k, v] : decl.presets) known.push_back(k);
      message += did_you_mean(preset, known) + " (presets:";
      for (const auto& k : known) message += " " + k;
      throw Error(message + ")");
    }
    for (const auto& [key, value] : it->second) {
      const auto slot = resolved.find(key);
      if (slot == resolved.end()) throw Error(unknown_param("preset " + preset, key, names));
      slot->second = coerce(value, type_of(decl.defaults.at(key)),
                            "preset " + preset + ": parameter '" + key + "'");
    }
  }
  for (const auto& assignment : sets) {
    const auto eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error("--set " + assignment + ": expected key=value");
    const std::string key = assignment.substr(0, eq);
    const auto slot = resolved.find(key);
    if (slot == resolved.end()) throw Error(unknown_param("--set " + assignment, key, names));
    slot->second = parse_value(type_of(decl.defaults.at(key)), assignment.substr(eq + 1),
                               "--set " + assignment);
  }
  return resolved;
}

}  // namespace whatif

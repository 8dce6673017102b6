#pragma once
// Experiment parameters: defaults declared by the script, then a preset, then --set overrides.
// Each parameter is typed by its default; unknown names are refused with the closest one.
#include <map>
#include <string>
#include <vector>

#include "whatif/registry/options.hpp"

namespace whatif {

struct ParamDecl {
  std::map<std::string, Value> defaults;
  std::map<std::string, std::map<std::string, Value>> presets;
};

// Returns the resolved parameters. `preset` may be empty. Throws Error naming the offending
// --preset / --set / preset key.
std::map<std::string, Value> resolve_params(const ParamDecl& decl, const std::string& preset,
                                            const std::vector<std::string>& sets);

}  // namespace whatif

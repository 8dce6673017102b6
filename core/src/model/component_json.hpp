#pragma once
// A model part's provenance record: kind, name, plugin, version and resolved options, as JSON
// (what a model's config_json stores per part). Null for an absent part.
#include <nlohmann/json.hpp>

#include "whatif/registry/component.hpp"

namespace whatif {

nlohmann::json component_json(const Component* c);

}  // namespace whatif

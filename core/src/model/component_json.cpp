#include "model/component_json.hpp"

namespace whatif {

nlohmann::json component_json(const Component* c) {
  if (!c) return nullptr;
  return {{"kind", c->identity().kind},
          {"name", c->identity().name},
          {"plugin", c->identity().plugin},
          {"version", c->identity().version},
          {"options", nlohmann::json::parse(c->hyperparams().to_json())}};
}

}  // namespace whatif

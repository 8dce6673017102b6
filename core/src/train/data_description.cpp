#include "train/data_description.hpp"

#include <nlohmann/json.hpp>

#include "results/geometry_json.hpp"

namespace whatif {

std::string describe_data(const Dataset& data) {
  const auto& id = data.identity();
  nlohmann::json out{{"kind", id.kind},
                     {"name", id.name},
                     {"plugin", id.plugin},
                     {"version", id.version},
                     {"examples", data.size()},
                     {"units", data.units()},
                     {"length_units", "mm"}};
  const std::string options = data.hyperparams().to_json();
  out["options"] = options.empty() ? nlohmann::json::object() : nlohmann::json::parse(options);
  // The first example's grid: where what a model generates from this data sits in space.
  if (data.size() > 0) out["geometry"] = geometry_json(example_geometry(data.get(0)));
  return out.dump();
}

}  // namespace whatif

#include "lua/geometry_binding.hpp"

#include <lua.hpp>

#include <nlohmann/json.hpp>

#include "lua/component_binding.hpp"
#include "lua/convert.hpp"
#include "results/geometry_json.hpp"
#include "whatif/registry/error.hpp"

namespace whatif::lua {

void push_geometry(lua_State* L, const data::Geometry& geometry) {
  lua_newtable(L);
  const auto field = [&](const char* name, const auto& values) {
    push_value(L, Value(std::vector<double>(values.begin(), values.end())));
    lua_setfield(L, -2, name);
  };
  field("spacing", geometry.spacing);
  field("origin", geometry.origin);
  field("direction", geometry.direction);
}

data::Geometry to_geometry(lua_State* L, int index, const std::string& what) {
  index = lua_absindex(L, index);
  if (lua_isuserdata(L, index)) {
    const auto dataset = check_dataset(L, index, what.c_str());
    if (dataset->size() < 1) throw Error(what + ": the dataset is empty, so it has no grid to give");
    return example_geometry(dataset->get(0));
  }
  if (!lua_istable(L, index))
    throw Error(what + ": geometry must be a dataset or {spacing = {x, y, z}, origin = {x, y, z}, direction = {9 numbers}}");
  nlohmann::json j = nlohmann::json::object();
  const Options fields = to_options(L, index, what);
  for (const auto& [key, value] : fields.values()) {
    if (key != "spacing" && key != "origin" && key != "direction")
      throw Error(what + ": geometry has no field '" + key + "' (spacing, origin, direction)");
    j[key] = std::get<std::vector<double>>(coerce(value, OptionType::DoubleList, what + ": geometry " + key));
  }
  return geometry_from_json(j, what);
}

}  // namespace whatif::lua

#pragma once
// Grids in scripts: a dataset's placement in space as a Lua table {spacing = {x, y, z},
// origin = {x, y, z}, direction = {9 numbers, row-major}} (mm, ITK's LPS convention), and back.
#include <string>

#include "whatif/data/volume.hpp"

struct lua_State;

namespace whatif::lua {

void push_geometry(lua_State* L, const data::Geometry& geometry);

// The grid at `index`: a dataset (its first example's grid) or a table as push_geometry writes it
// (origin and direction optional). Throws Error naming `what` otherwise.
data::Geometry to_geometry(lua_State* L, int index, const std::string& what);

}  // namespace whatif::lua

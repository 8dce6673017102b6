#pragma once
// whatif.grid, whatif.zip and whatif.experiment: sweeps over arms × seeds with one HDF5 result
// file per arm, skipping complete arms, resuming interrupted ones and recording failures.
struct lua_State;

namespace whatif::lua {

// Adds grid, zip and experiment to the whatif table on top of the stack.
void open_experiment(lua_State* L);

}  // namespace whatif::lua

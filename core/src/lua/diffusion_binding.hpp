#pragma once
// whatif.diffusion{...} and the Tensor handle scripts get back from models.
#include "whatif/tensor.hpp"

struct lua_State;

namespace whatif::lua {

// Adds `diffusion` to the whatif table on top of the stack and registers the metatables.
void open_diffusion(lua_State* L);

void push_tensor(lua_State* L, at::Tensor tensor);
at::Tensor check_tensor(lua_State* L, int index);

}  // namespace whatif::lua

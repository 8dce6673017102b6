#pragma once
// The Tensor handle scripts get back from models, encoders and datasets: shape, reductions,
// selection, elementwise arithmetic and comparisons.
#include "whatif/tensor.hpp"

struct lua_State;

namespace whatif::lua {

// Registers the "whatif.Tensor" metatable.
void open_tensor(lua_State* L);

void push_tensor(lua_State* L, at::Tensor tensor);
// The tensor at `index`; raises a Lua error if it is not one.
at::Tensor check_tensor(lua_State* L, int index);

}  // namespace whatif::lua

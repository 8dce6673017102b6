#pragma once
// Models in scripts: whatif.model(family, {parts and options}) and the shortcut whatif.<family>{...}
// for every model family (whatif/model_family.hpp), and one "whatif.Model" handle for all of them:
// fit, generate, counterfactual, save, load, config. Tables become requests (model/requests.hpp);
// the model decides the rest.
struct lua_State;

namespace whatif::lua {

// Adds `model` and one constructor per model family to the whatif table on top of the stack, and
// registers the "whatif.Model" metatable.
void open_models(lua_State* L);

}  // namespace whatif::lua

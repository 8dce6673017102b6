#pragma once
// The `whatif` Lua module: parameters, registry constructors, components, logging, progress.
#include <memory>

#include "lua/script.hpp"

struct lua_State;

namespace whatif {

class Component;

struct Script::State {
  Host& host;
  ScriptArgs args;
  lua_State* L = nullptr;
  bool params_called = false;
  std::string params_json = "{}";
  bool dry_run_stopped = false;
  int failed_arms = 0;
};

namespace lua {
// The script state behind a Lua state.
Script::State& script_state(lua_State* L);
}  // namespace lua

namespace lua {

// Installs the `whatif` table as a global and as require "whatif".
void open_module(lua_State* L, Script::State& state);

// Pushes a component as a userdata with the "whatif.Component" metatable.
void push_component(lua_State* L, std::shared_ptr<Component> component);
// The component at `index`; raises a Lua error if it is not one.
std::shared_ptr<Component> check_component(lua_State* L, int index);

}  // namespace lua
}  // namespace whatif

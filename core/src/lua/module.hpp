#pragma once
// The `whatif` Lua module: parameters, registry constructors, components, logging, progress.
#include <memory>
#include <string>

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

// `path` resolved in the run directory (the run's, not the script's `whatif.run_dir`, which a
// script can reassign); absolute paths are returned as they are.
std::string run_path(lua_State* L, const std::string& path);

}  // namespace lua
}  // namespace whatif

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
// script can reassign) and confined to it (results/run_paths.hpp); `read` also allows the
// script's folder and scripts/.
std::string run_path(lua_State* L, const std::string& path, bool read = false);

}  // namespace lua
}  // namespace whatif

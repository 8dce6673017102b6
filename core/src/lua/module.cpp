#include "lua/module.hpp"

#include <lua.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "host/host.hpp"
#include "lua/component_binding.hpp"
#include "lua/convert.hpp"
#include "lua/embedding_binding.hpp"
#include "lua/experiment_binding.hpp"
#include "lua/model_binding.hpp"
#include "lua/params.hpp"
#include "lua/tensor_binding.hpp"
#include "results/run_paths.hpp"
#include "util/log.hpp"
#include "util/progress.hpp"
#include "whatif/registry/registry.hpp"

namespace whatif::lua {
namespace {

const char* kStateKey = "whatif.state";
const char* kProgressMeta = "whatif.Progress";

Script::State& state_of(lua_State* L) { return script_state(L); }

// whatif.params{name = default, ..., presets = {smoke = {...}, ...}}
int params(lua_State* L) {
  Script::State& state = state_of(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  if (state.params_called) throw Error("whatif.params is called twice; declare all parameters once");
  ParamDecl decl;
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    if (lua_type(L, -2) != LUA_TSTRING) throw Error("whatif.params: parameter names must be strings");
    const std::string key = lua_tostring(L, -2);
    if (key == "presets") {
      luaL_checktype(L, -1, LUA_TTABLE);
      lua_pushnil(L);
      while (lua_next(L, -2)) {
        const std::string preset = luaL_checkstring(L, -2);
        const Options values = to_options(L, -1, "preset " + preset);
        for (const auto& [k, v] : values.values()) decl.presets[preset][k] = v;
        decl.presets.try_emplace(preset);
        lua_pop(L, 1);
      }
    } else {
      decl.defaults[key] = to_value(L, -1, "parameter '" + key + "'");
    }
    lua_pop(L, 1);
  }
  const auto resolved = resolve_params(decl, state.args.preset, state.args.sets);
  state.params_called = true;
  nlohmann::json json = nlohmann::json::object();
  lua_newtable(L);
  for (const auto& [key, value] : resolved) {
    push_value(L, value);
    lua_setfield(L, -2, key.c_str());
    json[key] = nlohmann::json::parse(to_json(value));
  }
  state.params_json = json.dump();
  if (state.args.dry_run) {
    std::cout << json.dump(2) << std::endl;
    state.dry_run_stopped = true;
    lua_pushstring(L, "dry run: stopped after resolving parameters");
    return lua_error(L);
  }
  return 1;
}

// whatif.<kind>(name, options) — builds a component through the registry.
int construct(lua_State* L) {
  const std::string kind = lua_tostring(L, lua_upvalueindex(1));
  const std::string name = luaL_checkstring(L, 1);
  const Options options = to_options(L, 2, "whatif." + kind + "(\"" + name + "\")");
  push_component(L, state_of(L).host.registry().create(kind, name, options));
  return 1;
}

// whatif.plugins() → list of {kind, name, plugin, version, library, doc}
int plugins(lua_State* L) {
  const auto entries = state_of(L).host.registry().entries();
  lua_createtable(L, static_cast<int>(entries.size()), 0);
  lua_Integer i = 0;
  for (const FactoryEntry* e : entries) {
    lua_newtable(L);
    for (const auto& [field, value] :
         {std::pair<const char*, const std::string*>{"kind", &e->kind}, {"name", &e->name},
          {"plugin", &e->plugin}, {"version", &e->version}, {"library", &e->library},
          {"doc", &e->doc}}) {
      lua_pushstring(L, value->c_str());
      lua_setfield(L, -2, field);
    }
    lua_rawseti(L, -2, ++i);
  }
  return 1;
}

std::string joined_arguments(lua_State* L) {
  std::string text;
  for (int i = 1; i <= lua_gettop(L); ++i) {
    if (i > 1) text += " ";
    text += luaL_tolstring(L, i, nullptr);
    lua_pop(L, 1);
  }
  return text;
}

int log_info(lua_State* L) {
  logger()->info(joined_arguments(L));
  return 0;
}

int log_warn(lua_State* L) {
  logger()->warn(joined_arguments(L));
  return 0;
}

// whatif.clock() → seconds on a monotonic clock (for timing parts of a run; differences only).
int clock_seconds(lua_State* L) {
  lua_pushnumber(L, std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count());
  return 1;
}

// whatif.peak_memory_mb([reset]) → the process's peak resident memory (MB) since it started or
// since the last reset; with reset = true, starts a new peak from the current resident size
// (Linux: /proc/self/status VmHWM and /proc/self/clear_refs). nil where that is unavailable.
int peak_memory_mb(lua_State* L) {
  const bool reset = lua_toboolean(L, 1);
  double peak = -1;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) peak = std::stod(line.substr(6)) / 1024.0;
  if (reset) std::ofstream("/proc/self/clear_refs") << "5";
  if (peak < 0) lua_pushnil(L);
  else lua_pushnumber(L, peak);
  return 1;
}

// Progress -----------------------------------------------------------------------------------

int progress_new(lua_State* L) {
  const lua_Integer total = luaL_checkinteger(L, 1);
  const std::string label = luaL_optstring(L, 2, "progress");
  void* memory = lua_newuserdatauv(L, sizeof(Progress), 0);
  new (memory) Progress(total, label);
  luaL_setmetatable(L, kProgressMeta);
  return 1;
}

int progress_tick(lua_State* L) {
  auto* p = static_cast<Progress*>(luaL_checkudata(L, 1, kProgressMeta));
  p->tick(luaL_optinteger(L, 2, 1), luaL_optstring(L, 3, ""));
  return 0;
}

int progress_finish(lua_State* L) {
  static_cast<Progress*>(luaL_checkudata(L, 1, kProgressMeta))->finish();
  return 0;
}

int progress_gc(lua_State* L) {
  static_cast<Progress*>(luaL_checkudata(L, 1, kProgressMeta))->~Progress();
  return 0;
}

void set_functions(lua_State* L, const luaL_Reg* functions) { luaL_setfuncs(L, functions, 0); }

}  // namespace

Script::State& script_state(lua_State* L) {
  lua_getfield(L, LUA_REGISTRYINDEX, kStateKey);
  auto* state = static_cast<Script::State*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  return *state;
}

std::string run_path(lua_State* L, const std::string& path, bool read) {
  const Script::State& state = script_state(L);
  std::vector<std::string> read_roots;
  if (read) read_roots = {std::filesystem::absolute(state.args.path).parent_path().string(), scripts_dir()};
  return confined_path(state.args.run_dir, path, read_roots);
}

void open_module(lua_State* L, Script::State& state) {
  lua_pushlightuserdata(L, &state);
  lua_setfield(L, LUA_REGISTRYINDEX, kStateKey);

  open_components(L);
  open_tensor(L);

  static const luaL_Reg progress_methods[] = {
      {"tick", guarded<progress_tick>}, {"finish", guarded<progress_finish>}, {nullptr, nullptr}};
  luaL_newmetatable(L, kProgressMeta);
  lua_pushcfunction(L, progress_gc);
  lua_setfield(L, -2, "__gc");
  lua_newtable(L);
  set_functions(L, progress_methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);

  static const luaL_Reg functions[] = {{"params", guarded<params>},
                                       {"plugins", guarded<plugins>},
                                       {"info", guarded<log_info>},
                                       {"warn", guarded<log_warn>},
                                       {"progress", guarded<progress_new>},
                                       {"clock", guarded<clock_seconds>},
                                       {"peak_memory_mb", guarded<peak_memory_mb>},
                                       {nullptr, nullptr}};
  lua_newtable(L);
  set_functions(L, functions);
  open_models(L);
  open_embedding(L);
  open_experiment(L);
  for (const auto& kind : Registry::kinds()) {
    lua_pushstring(L, kind.c_str());
    lua_pushcclosure(L, guarded<construct>, 1);
    lua_setfield(L, -2, kind.c_str());
  }
  lua_pushstring(L, state.args.run_dir.c_str());
  lua_setfield(L, -2, "run_dir");
  lua_pushinteger(L, state.host.threads());
  lua_setfield(L, -2, "threads");
  lua_pushstring(L, state.host.device().str().c_str());
  lua_setfield(L, -2, "device");
  lua_pushboolean(L, state.args.dry_run);
  lua_setfield(L, -2, "dry_run");

  lua_pushvalue(L, -1);
  lua_setglobal(L, "whatif");
  lua_getfield(L, LUA_REGISTRYINDEX, "whatif.loaded_modules");
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "whatif");
  lua_pop(L, 2);
}

}  // namespace whatif::lua

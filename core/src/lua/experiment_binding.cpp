#include "lua/experiment_binding.hpp"

#include <lua.hpp>

#include <filesystem>
#include <fstream>
#include <optional>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "lua/convert.hpp"
#include "lua/geometry_binding.hpp"
#include "lua/tensor_binding.hpp"
#include "lua/module.hpp"
#include "lua/sandbox.hpp"
#include "results/experiment_runner.hpp"
#include "util/log.hpp"
#include "whatif/registry/error.hpp"

namespace whatif::lua {
namespace fs = std::filesystem;
namespace {

// A Lua table of named values as an ordered map (keys sorted). Measured values (metrics) may be
// non-finite; settings (arm parameters) may not.
std::map<std::string, Value> table_values(lua_State* L, int index, const std::string& what,
                                          bool measured = false) {
  const Options options = to_options(L, index, what, measured);
  return options.values();
}

// Reads t[key] as a list of arrays of values; pushes nothing.
std::vector<std::pair<std::string, std::vector<Value>>> axes(lua_State* L, int index, const char* fn) {
  luaL_checktype(L, index, LUA_TTABLE);
  std::vector<std::pair<std::string, std::vector<Value>>> out;
  lua_pushnil(L);
  while (lua_next(L, index)) {
    if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1))
      throw Error(std::string(fn) + ": expected {name = {value, ...}, ...}");
    const std::string key = lua_tostring(L, -2);
    std::vector<Value> values;
    const lua_Integer n = luaL_len(L, -1);
    for (lua_Integer i = 1; i <= n; ++i) {
      lua_geti(L, -1, i);
      values.push_back(to_value(L, -1, std::string(fn) + ": " + key));
      lua_pop(L, 1);
    }
    out.emplace_back(key, std::move(values));
    lua_pop(L, 1);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

void push_arm(lua_State* L, const std::vector<std::pair<std::string, Value>>& fields) {
  lua_newtable(L);
  for (const auto& [k, v] : fields) {
    push_value(L, v);
    lua_setfield(L, -2, k.c_str());
  }
}

// whatif.grid{a = {1, 2}, b = {"x", "y"}} → every combination (keys in sorted order, the last fastest)
// A grid larger than kMaxGridArms is refused before any arm is built.
constexpr std::size_t kMaxGridArms = 100000;

int grid(lua_State* L) {
  const auto ax = axes(L, 1, "whatif.grid");
  std::size_t combinations = 1;
  for (const auto& [key, values] : ax) {
    if (values.empty()) throw Error("whatif.grid: '" + key + "' has no values");
    if (combinations > kMaxGridArms / values.size())
      throw Error("whatif.grid: more than " + std::to_string(kMaxGridArms) +
                  " combinations; split the sweep into several scripts or use whatif.zip");
    combinations *= values.size();
  }
  std::vector<std::vector<std::pair<std::string, Value>>> arms{{}};
  for (const auto& [key, values] : ax) {
    std::vector<std::vector<std::pair<std::string, Value>>> next;
    for (const auto& arm : arms)
      for (const auto& v : values) {
        auto extended = arm;
        extended.emplace_back(key, v);
        next.push_back(std::move(extended));
      }
    arms = std::move(next);
  }
  lua_createtable(L, static_cast<int>(arms.size()), 0);
  for (std::size_t i = 0; i < arms.size(); ++i) {
    push_arm(L, arms[i]);
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

// whatif.zip{a = {1, 2}, b = {"x", "y"}} → {a=1, b="x"}, {a=2, b="y"}
int zip(lua_State* L) {
  const auto ax = axes(L, 1, "whatif.zip");
  std::size_t n = ax.empty() ? 0 : ax.front().second.size();
  for (const auto& [key, values] : ax)
    if (values.size() != n)
      throw Error("whatif.zip: '" + key + "' has " + std::to_string(values.size()) + " values, '" +
                  ax.front().first + "' has " + std::to_string(n) + "; zip needs equal lengths");
  lua_createtable(L, static_cast<int>(n), 0);
  for (std::size_t i = 0; i < n; ++i) {
    std::vector<std::pair<std::string, Value>> arm;
    for (const auto& [key, values] : ax) arm.emplace_back(key, values[i]);
    push_arm(L, arm);
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

// The arm a ctx's methods write into. The handle outlives the arm's run (a script may keep ctx in a
// variable): once the run ends the pointer is cleared and every method refuses with a message.
struct ArmHandle {
  ArmResult* arm = nullptr;
  std::string id;
};
const char* kArmHandleMeta = "whatif.ArmHandle";

ArmResult& current_arm(lua_State* L) {
  auto* handle = static_cast<ArmHandle*>(luaL_checkudata(L, lua_upvalueindex(1), kArmHandleMeta));
  if (!handle->arm)
    throw Error("ctx of arm '" + handle->id + "' is used after its run ended; use ctx only inside run");
  return *handle->arm;
}

int arm_handle_gc(lua_State* L) {
  static_cast<ArmHandle*>(luaL_checkudata(L, 1, kArmHandleMeta))->~ArmHandle();
  return 0;
}

// ctx:curve(name, {values}) — a loss curve or any series, stored with the arm.
int ctx_curve(lua_State* L) {
  ArmResult& arm = current_arm(L);
  const std::string name = luaL_checkstring(L, 2);
  const Value v = to_value(L, 3, "ctx:curve('" + name + "')");
  arm.curves[name] = std::get<std::vector<double>>(coerce(v, OptionType::DoubleList, "ctx:curve"));
  return 0;
}

// ctx:sample(name, tensor [, note | {note = s, truth = s, geometry = dataset | {spacing=, ...}}]) —
// a sample volume kept in the result file (float32). `note` says what it shows (its prompt),
// `truth` the ground-truth change it should show, `geometry` where its grid sits (a dataset gives
// its first example's grid); the reports print the texts and the exported NIfTI carries the grid.
int ctx_sample(lua_State* L) {
  ArmResult& arm = current_arm(L);
  const std::string name = luaL_checkstring(L, 2);
  const std::string what = "ctx:sample('" + name + "')";
  const at::Tensor tensor = check_tensor(L, 3).detach().to(at::kFloat).contiguous();
  std::string note, truth;
  std::optional<data::Geometry> geometry;
  if (lua_type(L, 4) == LUA_TSTRING) {
    note = lua_tostring(L, 4);
  } else if (lua_istable(L, 4)) {
    lua_pushnil(L);
    while (lua_next(L, 4)) {
      const std::string key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
      if (key == "geometry") {
        geometry = to_geometry(L, -1, what);
      } else if (key == "note" || key == "truth") {
        if (lua_type(L, -1) != LUA_TSTRING) throw Error(what + ": '" + key + "' must be a string");
        (key == "note" ? note : truth) = lua_tostring(L, -1);
      } else {
        throw Error(what + ": unknown field '" + key + "' (note, truth, geometry)");
      }
      lua_pop(L, 1);
    }
  } else if (!lua_isnoneornil(L, 4)) {
    throw Error(what + ": the third argument must be a note or {note =, truth =, geometry =}");
  }
  if (geometry && tensor.dim() < 2) throw Error(what + ": a geometry needs a 2D or 3D image");
  arm.samples.emplace_back(name, tensor);
  if (!note.empty()) arm.sample_notes[name] = note;
  if (!truth.empty()) arm.sample_truths[name] = truth;
  if (geometry) arm.sample_geometry[name] = *geometry;
  return 0;
}

int ctx_log(lua_State* L) {
  ArmResult& arm = current_arm(L);
  std::string text;
  for (int i = 2; i <= lua_gettop(L); ++i) {
    if (i > 2) text += " ";
    text += luaL_tolstring(L, i, nullptr);
    lua_pop(L, 1);
  }
  logger()->info("[{}] {}", arm.id, text);
  return 0;
}

// Pushes the ctx table of one arm × seed; `handle` is the userdata at stack index `handle_index`.
void push_ctx(lua_State* L, const ArmRun& run, int handle_index) {
  lua_newtable(L);
  lua_pushinteger(L, run.seed);
  lua_setfield(L, -2, "seed");
  lua_pushstring(L, run.id.c_str());
  lua_setfield(L, -2, "id");
  lua_pushstring(L, run.dir.string().c_str());
  lua_setfield(L, -2, "dir");
  lua_pushstring(L, run.checkpoint.string().c_str());
  lua_setfield(L, -2, "checkpoint");
  for (const auto& [method, fn] : {std::pair<const char*, lua_CFunction>{"curve", guarded<ctx_curve>},
                                   {"sample", guarded<ctx_sample>}, {"log", guarded<ctx_log>}}) {
    lua_pushvalue(L, handle_index);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, -2, method);
  }
}

// whatif.experiment{name = "...", arms = {...}, seeds = {...}, run = function(arm, ctx) ... end}
// → {{id =, status =, arm =, seed =, metrics = {...}}, ...}
int experiment(lua_State* L) {
  Script::State& state = script_state(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    const std::string key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    if (key != "name" && key != "run" && key != "arms" && key != "seeds")
      throw Error("whatif.experiment: unknown field '" + key + "' (fields: name, arms, seeds, run)");
    lua_pop(L, 1);
  }
  Experiment spec;
  lua_getfield(L, 1, "name");
  spec.name = luaL_checkstring(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, 1, "run");
  luaL_checktype(L, -1, LUA_TFUNCTION);
  const int run = lua_gettop(L);
  lua_getfield(L, 1, "arms");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_newtable(L);
    lua_rawseti(L, -2, 1);
  }
  const int arms = lua_gettop(L);
  const lua_Integer arm_count = luaL_len(L, arms);
  for (lua_Integer a = 1; a <= arm_count; ++a) {
    lua_geti(L, arms, a);
    const auto values = table_values(L, -1, "whatif.experiment: arm " + std::to_string(a));
    spec.arms.emplace_back(values.begin(), values.end());
    lua_pop(L, 1);
  }
  lua_getfield(L, 1, "seeds");
  if (lua_isnil(L, -1)) spec.seeds = {0};
  else spec.seeds = std::get<std::vector<std::int64_t>>(coerce(to_value(L, -1, "whatif.experiment: seeds"), OptionType::IntList, "seeds"));
  lua_pop(L, 1);

  const auto& args = state.args;
  RunnerSettings settings;
  settings.run_dir = args.run_dir;
  settings.shard_index = args.shard_index;
  settings.shard_count = args.shard_count;
  settings.fresh = args.fresh;
  settings.params_json = state.params_json;
  settings.invocation_json = nlohmann::json{{"preset", args.preset}, {"sets", args.sets}}.dump();
  settings.sources_json = nlohmann::json(loaded_sources(L)).dump();
  settings.script_path = std::filesystem::absolute(args.path).string();
  ExperimentRunner runner(settings, state.host);
  const auto outcomes = runner.run(spec, [&](ArmRun& arm_run) {
    const int top = lua_gettop(L);
    auto* handle = static_cast<ArmHandle*>(lua_newuserdatauv(L, sizeof(ArmHandle), 0));
    new (handle) ArmHandle{&arm_run.result, arm_run.id};
    luaL_setmetatable(L, kArmHandleMeta);
    const int handle_index = lua_gettop(L);
    std::map<std::string, double> metrics;
    try {
      lua_pushvalue(L, run);
      lua_geti(L, arms, static_cast<lua_Integer>(arm_run.arm) + 1);
      push_ctx(L, arm_run, handle_index);
      protected_call(L, 2, 1);
      if (!lua_istable(L, -1))
        throw ArmError("whatif.experiment: run must return a table of metrics {name = number}", "");
      for (const auto& [k, v] : table_values(L, -1, "metrics of " + arm_run.id, true))
        metrics[k] = std::get<double>(coerce(v, OptionType::Double, "metric '" + k + "'"));
    } catch (const ScriptError& e) {
      handle->arm = nullptr;
      lua_settop(L, top);
      throw ArmError(e.what(), e.traceback());
    } catch (...) {
      handle->arm = nullptr;
      lua_settop(L, top);
      throw;
    }
    handle->arm = nullptr;
    lua_settop(L, top);
    return metrics;
  });
  state.failed_arms += static_cast<int>(runner.failed());

  lua_createtable(L, static_cast<int>(outcomes.size()), 0);
  lua_Integer i = 0;
  for (const auto& outcome : outcomes) {
    const ArmResult& arm = outcome.result;
    lua_newtable(L);
    lua_pushstring(L, arm.id.c_str());
    lua_setfield(L, -2, "id");
    lua_pushstring(L, arm.status.c_str());
    lua_setfield(L, -2, "status");
    lua_geti(L, arms, static_cast<lua_Integer>(outcome.arm) + 1);
    lua_setfield(L, -2, "arm");
    lua_pushinteger(L, arm.seed);
    lua_setfield(L, -2, "seed");
    lua_newtable(L);
    for (const auto& [k, v] : arm.metrics) {
      lua_pushnumber(L, v);
      lua_setfield(L, -2, k.c_str());
    }
    lua_setfield(L, -2, "metrics");
    lua_rawseti(L, -2, ++i);
  }
  return 1;
}

// whatif.summary(markdown): what the script concludes from its results, written to
// RUN_DIR/summary.md (replacing an earlier one) and shown at the top of `whatif report`.
int summary(lua_State* L) {
  const std::string text = luaL_checkstring(L, 1);
  const fs::path dir = script_state(L).args.run_dir;
  fs::create_directories(dir);
  const fs::path tmp = dir / "summary.md.tmp";
  {
    std::ofstream out(tmp);
    out << text << (text.empty() || text.back() == '\n' ? "" : "\n");
    if (!out) throw Error("whatif.summary: cannot write " + tmp.string());
  }
  fs::rename(tmp, dir / "summary.md");
  return 0;
}

}  // namespace

void open_experiment(lua_State* L) {
  luaL_newmetatable(L, kArmHandleMeta);
  lua_pushcfunction(L, arm_handle_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);

  lua_pushcfunction(L, guarded<summary>);
  lua_setfield(L, -2, "summary");
  lua_pushcfunction(L, guarded<grid>);
  lua_setfield(L, -2, "grid");
  lua_pushcfunction(L, guarded<zip>);
  lua_setfield(L, -2, "zip");
  lua_pushcfunction(L, guarded<experiment>);
  lua_setfield(L, -2, "experiment");
}

}  // namespace whatif::lua

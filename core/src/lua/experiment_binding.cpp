#include "lua/experiment_binding.hpp"

#include <lua.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "host/environment.hpp"
#include "host/host.hpp"
#include "lua/convert.hpp"
#include "lua/diffusion_binding.hpp"
#include "lua/module.hpp"
#include "lua/sandbox.hpp"
#include "results/result_store.hpp"
#include "util/log.hpp"
#include "whatif/registry/error.hpp"

namespace whatif::lua {
namespace fs = std::filesystem;
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// A Lua table of named values as an ordered map (keys sorted).
std::map<std::string, Value> table_values(lua_State* L, int index, const std::string& what) {
  const Options options = to_options(L, index, what);
  return options.values();
}

nlohmann::json json_of(const std::map<std::string, Value>& values) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : values) j[k] = nlohmann::json::parse(to_json(v));
  return j;
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
int grid(lua_State* L) {
  const auto ax = axes(L, 1, "whatif.grid");
  std::vector<std::vector<std::pair<std::string, Value>>> arms{{}};
  for (const auto& [key, values] : ax) {
    if (values.empty()) throw Error("whatif.grid: '" + key + "' has no values");
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

std::string slug(const Value& v) {
  std::string text = std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : to_json(v);
  std::string out;
  for (const char c : text) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
  return out;
}

ArmResult& current_arm(lua_State* L) {
  return *static_cast<ArmResult*>(lua_touserdata(L, lua_upvalueindex(1)));
}

// ctx:curve(name, {values}) — a loss curve or any series, stored with the arm.
int ctx_curve(lua_State* L) {
  const std::string name = luaL_checkstring(L, 2);
  const Value v = to_value(L, 3, "ctx:curve('" + name + "')");
  current_arm(L).curves[name] = std::get<std::vector<double>>(coerce(v, OptionType::DoubleList, "ctx:curve"));
  return 0;
}

// ctx:sample(name, tensor) — a sample volume kept in the result file (float32).
int ctx_sample(lua_State* L) {
  const std::string name = luaL_checkstring(L, 2);
  current_arm(L).samples.emplace_back(name, check_tensor(L, 3).detach().to(at::kFloat).contiguous());
  return 0;
}

int ctx_log(lua_State* L) {
  std::string text;
  for (int i = 2; i <= lua_gettop(L); ++i) {
    if (i > 2) text += " ";
    text += luaL_tolstring(L, i, nullptr);
    lua_pop(L, 1);
  }
  logger()->info("[{}] {}", current_arm(L).id, text);
  return 0;
}

std::string provenance(const Host& host, double started) {
  const Environment env = describe_environment();
  nlohmann::json p;
  for (const auto& [k, v] : env.rows()) p[k] = v;
  nlohmann::json plugins = nlohmann::json::array();
  for (const auto& plugin : host.registry().plugins())
    plugins.push_back({{"name", plugin.name}, {"version", plugin.version}, {"library", plugin.library},
                       {"interface_hash", plugin.interface_hash}});
  p["plugins"] = plugins;
  p["device"] = host.device().str();
  p["started"] = started;
  return p.dump();
}

// whatif.experiment{name = "...", arms = {...}, seeds = {...}, run = function(arm, ctx) ... end}
int experiment(lua_State* L) {
  Script::State& state = script_state(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "name");
  const std::string name = luaL_checkstring(L, -1);
  lua_pop(L, 1);
  for (const char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'))
      throw Error("whatif.experiment: name '" + name + "' may hold letters, digits, '_' and '-' only");
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
  std::vector<std::int64_t> seeds;
  lua_getfield(L, 1, "seeds");
  if (lua_isnil(L, -1)) seeds = {0};
  else seeds = std::get<std::vector<std::int64_t>>(coerce(to_value(L, -1, "whatif.experiment: seeds"), OptionType::IntList, "seeds"));
  lua_pop(L, 1);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    const std::string key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    if (key != "name" && key != "run" && key != "arms" && key != "seeds")
      throw Error("whatif.experiment: unknown field '" + key + "' (fields: name, arms, seeds, run)");
    lua_pop(L, 1);
  }

  const auto& args = state.args;
  const std::string run_dir = args.run_dir;
  fs::create_directories(run_dir);
  nlohmann::json invocation{{"preset", args.preset}, {"sets", args.sets}};
  const nlohmann::json params = nlohmann::json::parse(state.params_json);
  const lua_Integer arm_count = luaL_len(L, arms);
  std::int64_t index = 0, ran = 0, skipped = 0, failed = 0;
  lua_newtable(L);  // summary
  const int summary = lua_gettop(L);
  for (lua_Integer a = 1; a <= arm_count; ++a) {
    lua_geti(L, arms, a);
    const int arm_table = lua_gettop(L);
    const auto fields = table_values(L, arm_table, "whatif.experiment: arm " + std::to_string(a));
    for (const std::int64_t seed : seeds) {
      const bool mine = index++ % args.shard_count == args.shard_index;
      if (!mine) continue;
      ArmResult arm;
      arm.id = name;
      for (const auto& [k, v] : fields) arm.id += "-" + k + "=" + slug(v);
      arm.id += "-seed" + std::to_string(seed);
      arm.seed = seed;
      arm.arm_json = json_of(fields).dump();
      arm.config_json = nlohmann::json{{"experiment", name}, {"params", params}, {"arm", json_of(fields)}, {"seed", seed}}.dump();
      arm.config_hash = fnv1a_hex(arm.config_json);
      arm.invocation_json = invocation.dump();
      const fs::path file = fs::path(run_dir) / (arm.id + ".h5");
      const fs::path work = fs::absolute(fs::path(run_dir) / arm.id);
      if (args.fresh) {
        fs::remove(file);
        fs::remove_all(work);
      }
      bool done = false;
      if (fs::exists(file)) {
        const ArmResult previous = read_arm(file.string());
        if (previous.status == "complete" && previous.config_hash == arm.config_hash) {
          logger()->info("[{}] complete, skipped", arm.id);
          arm = previous;
          done = true;
          ++skipped;
        } else if (previous.config_hash != arm.config_hash) {
          logger()->warn("[{}] earlier result has another config; running again", arm.id);
        }
      }
      if (!done) {
        fs::create_directories(work);
        arm.started = now_seconds();
        at::manual_seed(static_cast<std::uint64_t>(seed));
        logger()->info("[{}] running", arm.id);
        lua_pushvalue(L, run);
        lua_pushvalue(L, arm_table);
        lua_newtable(L);  // ctx
        lua_pushinteger(L, seed);
        lua_setfield(L, -2, "seed");
        lua_pushstring(L, arm.id.c_str());
        lua_setfield(L, -2, "id");
        lua_pushstring(L, work.string().c_str());
        lua_setfield(L, -2, "dir");
        lua_pushstring(L, (work / "checkpoint.h5").string().c_str());
        lua_setfield(L, -2, "checkpoint");
        for (const auto& [method, fn] : {std::pair<const char*, lua_CFunction>{"curve", guarded<ctx_curve>},
                                         {"sample", guarded<ctx_sample>}, {"log", guarded<ctx_log>}}) {
          lua_pushlightuserdata(L, &arm);
          lua_pushcclosure(L, fn, 1);
          lua_setfield(L, -2, method);
        }
        try {
          protected_call(L, 2, 1);
          if (!lua_istable(L, -1))
            throw ScriptError("whatif.experiment: run must return a table of metrics {name = number}", "");
          for (const auto& [k, v] : table_values(L, -1, "metrics of " + arm.id))
            arm.metrics[k] = std::get<double>(coerce(v, OptionType::Double, "metric '" + k + "'"));
          lua_pop(L, 1);
          arm.status = "complete";
          ++ran;
        } catch (const ScriptError& e) {
          arm.status = "failed";
          arm.message = e.what();
          arm.traceback = e.traceback();
          ++failed;
          logger()->error("[{}] failed: {}", arm.id, e.what());
        } catch (const std::exception& e) {
          arm.status = "failed";
          arm.message = e.what();
          ++failed;
          logger()->error("[{}] failed: {}", arm.id, e.what());
        }
        arm.finished = now_seconds();
        arm.provenance_json = provenance(state.host, arm.started);
        write_arm(run_dir, arm);
      }
      lua_newtable(L);
      lua_pushstring(L, arm.id.c_str());
      lua_setfield(L, -2, "id");
      lua_pushstring(L, arm.status.c_str());
      lua_setfield(L, -2, "status");
      lua_pushvalue(L, arm_table);
      lua_setfield(L, -2, "arm");
      lua_pushinteger(L, seed);
      lua_setfield(L, -2, "seed");
      lua_newtable(L);
      for (const auto& [k, v] : arm.metrics) {
        lua_pushnumber(L, v);
        lua_setfield(L, -2, k.c_str());
      }
      lua_setfield(L, -2, "metrics");
      lua_rawseti(L, summary, static_cast<lua_Integer>(luaL_len(L, summary) + 1));
    }
    lua_pop(L, 1);  // arm table
  }
  state.failed_arms += static_cast<int>(failed);
  logger()->info("experiment {}: {} ran, {} skipped (complete), {} failed; results in {}", name, ran,
                 skipped, failed, run_dir);
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

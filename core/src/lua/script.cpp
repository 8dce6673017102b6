#include "lua/script.hpp"

#include <lua.hpp>

#include <filesystem>

#include <ATen/Context.h>

#include "host/host.hpp"
#include "lua/limits.hpp"
#include "lua/module.hpp"
#include "lua/sandbox.hpp"

namespace whatif {
namespace fs = std::filesystem;

ScriptError::~ScriptError() = default;

Script::Script(Host& host, ScriptArgs args)
    : watchdog_(std::make_unique<lua::Watchdog>(lua::ScriptLimits{args.script_timeout, args.script_memory_mb << 20})),
      state_(std::make_unique<State>(State{host, std::move(args)})) {
  state_->L = watchdog_->new_state();
  if (!state_->L) throw Error("cannot create a Lua state (out of memory)");
  const fs::path folder = fs::absolute(state_->args.path).parent_path();
  lua::open_sandbox(state_->L, {folder.string(), scripts_dir()});
  lua::open_module(state_->L, *state_);
}

Script::~Script() { lua_close(state_->L); }

void Script::execute(const std::string& code, const std::string& chunkname) {
  lua_State* L = state_->L;
  if (code.empty()) {
    lua::load_text_file(L, state_->args.path, "script " + fs::path(state_->args.path).filename().string());
  } else {
    const std::string name = "@" + chunkname;
    if (luaL_loadbufferx(L, code.data(), code.size(), name.c_str(), "t") != LUA_OK) {
      std::string message = lua_tostring(L, -1);
      lua_pop(L, 1);
      throw ScriptError(message, "");
    }
  }
  try {
    lua::protected_call(L, 0, 0);
  } catch (const ScriptError& e) {
    if (state_->dry_run_stopped) return;
    const std::string reason = watchdog_->stop_reason(e.what());
    if (!reason.empty()) throw ScriptError(state_->args.path + ": " + reason, e.traceback());
    throw;
  }
  const auto& args = state_->args;
  if (state_->failed_arms > 0)
    throw Error(args.path + ": " + std::to_string(state_->failed_arms) +
                " arm(s) failed; their messages and tracebacks are in " + args.run_dir + "/*.h5");
  if (!state_->params_called && (!args.sets.empty() || !args.preset.empty()))
    throw Error(args.path + ": " + (args.sets.empty() ? "--preset" : "--set") +
                " given, but the script declares no parameters (whatif.params{...})");
}

void Script::run() {
  if (!fs::is_regular_file(state_->args.path))
    throw Error(state_->args.path + ": no such script");
  at::manual_seed(0);  // components built outside an arm start from the same weights every run
  execute("", "");
}

void Script::run_string(const std::string& code, const std::string& chunkname) {
  execute(code, chunkname);
}

std::string Script::resolved_params_json() const { return state_->params_json; }
bool Script::stopped_by_dry_run() const { return state_->dry_run_stopped; }

}  // namespace whatif

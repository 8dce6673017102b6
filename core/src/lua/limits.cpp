#include "lua/limits.hpp"

#include <lua.hpp>

#include <cstdio>
#include <cstdlib>

namespace whatif::lua {
namespace {

const char kWatchdogKey = 0;  // its address keys the watchdog in the registry
constexpr int kHookInstructions = 1 << 20;

std::string megabytes(std::size_t bytes) { return std::to_string(bytes >> 20) + " MB"; }

// An error outside any protected call (whatif makes none on purpose): say so before Lua aborts.
int panic(lua_State* L) {
  const char* message = lua_tostring(L, -1);
  std::fprintf(stderr, "error: unprotected Lua error: %s\n", message ? message : "(not a string)");
  return 0;
}

}  // namespace

Watchdog* watchdog_of(lua_State* L) {
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kWatchdogKey);
  auto* w = static_cast<Watchdog*>(lua_touserdata(L, -1));
  lua_pop(L, 1);
  return w;
}

lua_State* Watchdog::new_state() {
  lua_State* L = lua_newstate(&Watchdog::allocate, this);
  if (!L) return nullptr;
  lua_atpanic(L, &panic);
  lua_pushlightuserdata(L, this);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kWatchdogKey);
  // Coroutines inherit the hook of the thread that creates them.
  if (limits_.idle_seconds > 0) lua_sethook(L, &Watchdog::hook, LUA_MASKCOUNT, kHookInstructions);
  return L;
}

void* Watchdog::allocate(void* self, void* block, std::size_t old_size, std::size_t new_size) {
  auto* w = static_cast<Watchdog*>(self);
  const std::size_t old = block ? old_size : 0;  // without a block, old_size names the object type
  if (new_size == 0) {
    std::free(block);
    w->used_ -= old;
    return nullptr;
  }
  if (w->limits_.memory_bytes > 0 && new_size > old && w->used_ - old + new_size > w->limits_.memory_bytes) {
    w->memory_refused_ = true;
    return nullptr;  // Lua raises "not enough memory"
  }
  void* grown = std::realloc(block, new_size);
  if (grown) w->used_ = w->used_ - old + new_size;
  return grown;
}

void Watchdog::hook(lua_State* L, lua_Debug*) {
  Watchdog* w = watchdog_of(L);
  if (!w) return;
  const double idle = std::chrono::duration<double>(Clock::now() - w->last_activity_).count();
  if (!w->timed_out_ && idle <= w->limits_.idle_seconds) return;
  // Once tripped, every further Lua instruction fails, so a pcall in the script cannot swallow it.
  w->timed_out_ = true;
  lua_sethook(L, &Watchdog::hook, LUA_MASKCOUNT, 1);
  // Level 0 inside a hook is the Lua function that was running: the message names its line.
  luaL_where(L, 0);
  lua_pushfstring(L, "stopped: Lua code ran %d s without calling whatif (an endless loop?); "
                     "raise --script-timeout SECONDS if the script needs longer",
                  static_cast<int>(w->limits_.idle_seconds));
  lua_concat(L, 2);
  lua_error(L);
}

std::string Watchdog::stop_reason(const std::string& message) const {
  if (memory_refused_ && message.find("not enough memory") != std::string::npos)
    return "the script's Lua memory (tables, strings) reached its limit of " + megabytes(limits_.memory_bytes) +
           "; raise --script-memory MB if it needs more";
  return "";
}

}  // namespace whatif::lua

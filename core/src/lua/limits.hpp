#pragma once
// Bounds on what a script's Lua code may take, for scripts run from untrusted sources: a memory
// cap on the Lua heap (tables, strings, closures — not tensors) and a watchdog that stops Lua code
// running longer than a limit without calling whatif (an endless loop). Long whatif calls (a fit,
// a sweep of samples) are not Lua code and never trip it: the clock restarts whenever a whatif
// function is entered or returns.
#include <chrono>
#include <cstddef>
#include <string>

struct lua_State;
struct lua_Debug;

namespace whatif::lua {

struct ScriptLimits {
  double idle_seconds = 600;                         // 0: no watchdog
  std::size_t memory_bytes = std::size_t{1} << 30;  // 0: no cap
};

class Watchdog {
 public:
  explicit Watchdog(ScriptLimits limits) : limits_(limits), last_activity_(Clock::now()) {}

  // A Lua state whose heap goes through this watchdog's allocator, with the hook installed.
  lua_State* new_state();
  // Called by every whatif function on entry and exit (lua/convert.hpp's guarded).
  void activity() { last_activity_ = Clock::now(); }
  // The one-line reason the script was stopped, or "" when it was not.
  std::string stop_reason(const std::string& message) const;
  std::size_t used_bytes() const { return used_; }

 private:
  using Clock = std::chrono::steady_clock;
  static void* allocate(void* self, void* block, std::size_t old_size, std::size_t new_size);
  static void hook(lua_State* L, lua_Debug* ar);

  ScriptLimits limits_;
  Clock::time_point last_activity_;
  std::size_t used_ = 0;
  bool memory_refused_ = false;
  bool timed_out_ = false;
};

// The watchdog of a Lua state made by Watchdog::new_state, or null.
Watchdog* watchdog_of(lua_State* L);

}  // namespace whatif::lua

#pragma once
// Conversions between Lua values and whatif values, and the guard every C function uses so a C++
// exception becomes a Lua error located at the calling script line.
#include <exception>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <lua.hpp>

#include "lua/limits.hpp"
#include "whatif/registry/options.hpp"

namespace whatif::lua {

// Lua boolean / integer / number / string / array of numbers or strings → Value.
// Throws Error naming `what` for anything else.
Value to_value(lua_State* L, int index, const std::string& what);
void push_value(lua_State* L, const Value& value);
// A Lua table of options → Options (string keys only). `what` names the call for messages. Options
// are settings, so NaN and infinities are refused unless `allow_non_finite` (measured values: a
// metric may honestly be inf).
Options to_options(lua_State* L, int index, const std::string& what, bool allow_non_finite = false);
void push_options(lua_State* L, const Options& options);
// The Lua list of strings at `index`; anything else throws Error(`error`).
std::vector<std::string> to_strings(lua_State* L, int index, const std::string& error);
// The table at `index` as options resolved against `schema` (defaults filled, types checked, an
// unknown key refused with the closest valid one); keys in `skip` are left out, for the caller to
// read apart.
Options resolved_options(lua_State* L, int index, const Schema& schema, const std::string& what,
                         const std::set<std::string>& skip = {});
// t.attributes as rows of named numbers, `{{level = 0}, {level = 2, lesion_volume_ml = 3}}`; {}
// when the field is absent.
std::vector<std::map<std::string, double>> attribute_rows(lua_State* L, int table, const std::string& what);

// Raises the current C++ exception's message as a Lua error at the calling script line.
[[noreturn]] void raise(lua_State* L, const std::exception& e);

// Every whatif function restarts the script's watchdog clock on entry and on return, so only
// Lua code running without whatif calls counts against --script-timeout.
template <int (*F)(lua_State*)>
int guarded(lua_State* L) {
  Watchdog* watchdog = watchdog_of(L);
  if (watchdog) watchdog->activity();
  try {
    const int results = F(L);
    if (watchdog) watchdog->activity();
    return results;
  } catch (const std::exception& e) {
    if (watchdog) watchdog->activity();
    raise(L, e);
  }
}

}  // namespace whatif::lua

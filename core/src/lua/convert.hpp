#pragma once
// Conversions between Lua values and whatif values, and the guard every C function uses so a C++
// exception becomes a Lua error located at the calling script line.
#include <exception>
#include <string>

#include <lua.hpp>

#include "whatif/registry/options.hpp"

namespace whatif::lua {

// Lua boolean / integer / number / string / array of numbers or strings → Value.
// Throws Error naming `what` for anything else.
Value to_value(lua_State* L, int index, const std::string& what);
void push_value(lua_State* L, const Value& value);
// A Lua table of options → Options (string keys only). `what` names the call for messages.
Options to_options(lua_State* L, int index, const std::string& what);
void push_options(lua_State* L, const Options& options);

// Raises the current C++ exception's message as a Lua error at the calling script line.
[[noreturn]] void raise(lua_State* L, const std::exception& e);

template <int (*F)(lua_State*)>
int guarded(lua_State* L) {
  try {
    return F(L);
  } catch (const std::exception& e) {
    raise(L, e);
  }
}

}  // namespace whatif::lua

#pragma once
// The sandbox of DESIGN.md §11: only the safe standard libraries, text-only `load`, and a
// `require` that reads Lua files only from scripts/ and the experiment's own folder.
#include <map>
#include <string>
#include <vector>

struct lua_State;

namespace whatif::lua {

// Opens base, string, table, math, utf8 and coroutine; removes dofile, loadfile and string.dump;
// replaces load with a text-only version and require with one searching `roots` in order.
void open_sandbox(lua_State* L, const std::vector<std::string>& roots);

// Loads Lua *text* (never bytecode) from a file; chunk name "@path" so errors say path:line.
// Leaves the function on the stack; throws Error with a one-line message on failure. The text's
// FNV-1a hash is recorded under `source_key` (see loaded_sources).
void load_text_file(lua_State* L, const std::string& path, const std::string& source_key);

// The hash of every script and module loaded so far, by key ("script NAME", "module NAME"): what
// an arm's identity covers besides its parameters, so an edited script never reuses old results.
std::map<std::string, std::string> loaded_sources(lua_State* L);

// Calls the function on top of the stack with `nargs` arguments under a traceback handler.
// On failure throws ScriptError; the function and arguments are popped either way.
void protected_call(lua_State* L, int nargs, int nresults);

}  // namespace whatif::lua

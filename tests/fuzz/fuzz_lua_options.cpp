// libFuzzer: any text as the body of a Lua table constructor `return {<text>}`, evaluated in a
// bounded Lua state (the script watchdog and memory cap), then converted to options and resolved
// against a schema of every option type — the path every script option takes. Ends in options or
// whatif::Error, never a crash.
#include <lua.hpp>

#include <cstdint>
#include <string>

#include "lua/convert.hpp"
#include "lua/limits.hpp"
#include "whatif/registry/error.hpp"
#include "whatif/registry/options.hpp"

using namespace whatif;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string code = "return {" + std::string(reinterpret_cast<const char*>(data), size) + "}";
  lua::Watchdog watchdog(lua::ScriptLimits{0.05, std::size_t{16} << 20});
  lua_State* L = watchdog.new_state();
  if (!L) return 0;
  luaL_requiref(L, LUA_GNAME, luaopen_base, 1);  // no io, os or string.rep: the sandbox's subset
  lua_pop(L, 1);
  if (luaL_loadbufferx(L, code.data(), code.size(), "=fuzz", "t") == LUA_OK &&
      lua_pcall(L, 0, 1, 0) == LUA_OK && lua_istable(L, -1)) {
    static const Schema schema{{"n", OptionType::Int, std::int64_t{1}, ""},
                               {"x", OptionType::Double, 0.5, ""},
                               {"flag", OptionType::Bool, false, ""},
                               {"name", OptionType::String, std::string("a"), ""},
                               {"sizes", OptionType::IntList, std::vector<std::int64_t>{1}, ""},
                               {"weights", OptionType::DoubleList, std::vector<double>{0.5}, ""},
                               {"words", OptionType::StringList, std::vector<std::string>{}, ""}};
    try {
      lua::to_options(L, -1, "fuzz").resolve(schema, "fuzz");
    } catch (const Error&) {
    }
  }
  lua_close(L);
  return 0;
}

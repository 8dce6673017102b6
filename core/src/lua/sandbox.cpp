#include "lua/sandbox.hpp"

#include <lua.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "lua/script.hpp"
#include "util/hash.hpp"

namespace whatif::lua {
namespace fs = std::filesystem;
namespace {

const char* kRootsKey = "whatif.require_roots";
const char* kLoadedKey = "whatif.loaded_modules";
const char* kSourcesKey = "whatif.sources";

// Stands in for os, io, debug and package: any field read says why it is missing.
int refuse_library(lua_State* L) {
  const char* library = lua_tostring(L, lua_upvalueindex(1));
  const char* field = lua_tostring(L, 2);
  return luaL_error(L,
                    "%s.%s is not available in whatif scripts (the sandbox has no os, io, debug or "
                    "package; files and logs go through the whatif API)",
                    library, field ? field : "?");
}

int refuse(lua_State* L) {
  return luaL_error(L, "%s is disabled in whatif scripts (file access goes through the whatif API)",
                    lua_tostring(L, lua_upvalueindex(1)));
}

// load(chunk [, chunkname [, mode [, env]]]) restricted to text chunks.
int text_only_load(lua_State* L) {
  if (lua_type(L, 1) == LUA_TSTRING) {
    size_t size = 0;
    const char* chunk = lua_tolstring(L, 1, &size);
    if (size > 0 && chunk[0] == LUA_SIGNATURE[0])
      return luaL_error(L, "load: loading bytecode is disabled in whatif scripts");
  }
  if (!lua_isnoneornil(L, 3)) {
    const char* mode = luaL_checkstring(L, 3);
    if (std::string(mode).find('b') != std::string::npos)
      return luaL_error(L, "load: mode '%s' asks for bytecode, which is disabled in whatif scripts",
                        mode);
  }
  lua_settop(L, std::max(lua_gettop(L), 4));
  lua_pushstring(L, "t");
  lua_replace(L, 3);
  lua_pushvalue(L, lua_upvalueindex(1));  // the original load
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

bool valid_module_name(const std::string& name) {
  if (name.empty() || name.front() == '.' || name.back() == '.') return false;
  for (const char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'))
      return false;
  return name.find("..") == std::string::npos;
}

int sandboxed_require(lua_State* L) {
  const std::string name = luaL_checkstring(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, kLoadedKey);
  lua_getfield(L, -1, name.c_str());
  if (!lua_isnil(L, -1)) return 1;
  lua_pop(L, 1);
  if (!valid_module_name(name))
    return luaL_error(L,
                      "require '%s': module names are dotted words (a.b.c); paths and '..' are "
                      "refused — require only reaches scripts/ and the experiment's folder",
                      name.c_str());
  std::string relative = name;
  for (char& c : relative)
    if (c == '.') c = '/';
  relative += ".lua";
  lua_getfield(L, LUA_REGISTRYINDEX, kRootsKey);
  std::string searched;
  std::string found;
  const lua_Integer n = luaL_len(L, -1);
  for (lua_Integer i = 1; i <= n && found.empty(); ++i) {
    lua_geti(L, -1, i);
    const fs::path candidate = fs::path(lua_tostring(L, -1)) / relative;
    lua_pop(L, 1);
    searched += (searched.empty() ? "" : ", ") + candidate.string();
    if (fs::is_regular_file(candidate)) found = candidate.string();
  }
  lua_pop(L, 1);
  if (found.empty())
    return luaL_error(L, "require '%s': not found in scripts/ or the experiment's folder (searched %s)",
                      name.c_str(), searched.c_str());
  try {
    load_text_file(L, found, "module " + name);
  } catch (const std::exception& e) {
    lua_pushstring(L, e.what());
    return lua_error(L);
  }
  lua_pushstring(L, name.c_str());
  lua_call(L, 1, 1);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, -3, name.c_str());  // loaded[name] = result
  return 1;
}

int traceback_handler(lua_State* L) {
  const char* message = lua_tostring(L, 1);
  if (!message) message = luaL_tolstring(L, 1, nullptr);
  luaL_traceback(L, L, message, 1);
  return 1;
}

}  // namespace

void open_sandbox(lua_State* L, const std::vector<std::string>& roots) {
  static const luaL_Reg libraries[] = {{LUA_GNAME, luaopen_base},
                                       {LUA_STRLIBNAME, luaopen_string},
                                       {LUA_TABLIBNAME, luaopen_table},
                                       {LUA_MATHLIBNAME, luaopen_math},
                                       {LUA_UTF8LIBNAME, luaopen_utf8},
                                       {LUA_COLIBNAME, luaopen_coroutine}};
  for (const auto& lib : libraries) {
    luaL_requiref(L, lib.name, lib.func, 1);
    lua_pop(L, 1);
  }
  for (const char* name : {"dofile", "loadfile"}) {
    lua_pushstring(L, name);
    lua_pushcclosure(L, refuse, 1);
    lua_setglobal(L, name);
  }
  for (const char* name : {"os", "io", "debug", "package"}) {
    lua_newtable(L);
    lua_newtable(L);
    lua_pushstring(L, name);
    lua_pushcclosure(L, refuse_library, 1);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, "locked");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_setglobal(L, name);
  }
  lua_getglobal(L, "string");
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  lua_pop(L, 1);
  lua_getglobal(L, "load");
  lua_pushcclosure(L, text_only_load, 1);
  lua_setglobal(L, "load");

  lua_newtable(L);
  for (std::size_t i = 0; i < roots.size(); ++i) {
    lua_pushstring(L, roots[i].c_str());
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  lua_setfield(L, LUA_REGISTRYINDEX, kRootsKey);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, kLoadedKey);
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, kSourcesKey);
  lua_pushcfunction(L, sandboxed_require);
  lua_setglobal(L, "require");
}

void load_text_file(lua_State* L, const std::string& path, const std::string& source_key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the script");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  lua_getfield(L, LUA_REGISTRYINDEX, kSourcesKey);
  lua_pushstring(L, hex(fnv1a(text)).c_str());
  lua_setfield(L, -2, source_key.c_str());
  lua_pop(L, 1);
  const std::string chunkname = "@" + path;
  const int status = luaL_loadbufferx(L, text.data(), text.size(), chunkname.c_str(), "t");
  if (status != LUA_OK) {
    std::string message = lua_tostring(L, -1);
    lua_pop(L, 1);
    if (message.find("attempt to load a binary chunk") != std::string::npos)
      message = path + ": is Lua bytecode; whatif loads scripts as text only";
    throw Error(message);
  }
}

std::map<std::string, std::string> loaded_sources(lua_State* L) {
  std::map<std::string, std::string> out;
  lua_getfield(L, LUA_REGISTRYINDEX, kSourcesKey);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    out[lua_tostring(L, -2)] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return out;
}

void protected_call(lua_State* L, int nargs, int nresults) {
  const int base = lua_gettop(L) - nargs;  // index of the function
  lua_pushcfunction(L, traceback_handler);
  lua_insert(L, base);
  const int status = lua_pcall(L, nargs, nresults, base);
  lua_remove(L, base);
  if (status == LUA_OK) return;
  std::string full = lua_tostring(L, -1) ? lua_tostring(L, -1) : "(error object is not a string)";
  lua_pop(L, 1);
  const auto newline = full.find('\n');
  std::string first = full.substr(0, newline);
  std::string traceback = newline == std::string::npos ? "" : full.substr(newline + 1);
  throw ScriptError(first, traceback);
}

}  // namespace whatif::lua

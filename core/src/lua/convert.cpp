#include "lua/convert.hpp"

#include <algorithm>
#include <cmath>

#include "whatif/registry/error.hpp"

namespace whatif::lua {

Value to_value(lua_State* L, int index, const std::string& what) {
  index = lua_absindex(L, index);
  switch (lua_type(L, index)) {
    case LUA_TBOOLEAN: return lua_toboolean(L, index) != 0;
    case LUA_TSTRING: {
      std::size_t length = 0;  // Lua strings may hold zero bytes
      const char* text = lua_tolstring(L, index, &length);
      return std::string(text, length);
    }
    case LUA_TNUMBER:
      if (lua_isinteger(L, index)) return static_cast<std::int64_t>(lua_tointeger(L, index));
      return static_cast<double>(lua_tonumber(L, index));
    case LUA_TTABLE: {
      const lua_Integer n = luaL_len(L, index);
      std::vector<std::int64_t> ints;
      std::vector<double> doubles;
      std::vector<std::string> strings;
      bool all_int = true, any_number = false, any_string = false;
      for (lua_Integer i = 1; i <= n; ++i) {
        lua_geti(L, index, i);
        if (lua_type(L, -1) == LUA_TNUMBER) {
          any_number = true;
          const bool is_int = lua_isinteger(L, -1);
          all_int = all_int && is_int;
          doubles.push_back(lua_tonumber(L, -1));
          if (is_int) ints.push_back(lua_tointeger(L, -1));
        } else if (lua_type(L, -1) == LUA_TSTRING) {
          any_string = true;
          std::size_t length = 0;
          const char* text = lua_tolstring(L, -1, &length);
          strings.emplace_back(text, length);
        } else {
          const std::string type = luaL_typename(L, -1);
          lua_pop(L, 1);
          throw Error(what + ": lists hold numbers or strings, element " + std::to_string(i) +
                      " is a " + type);
        }
        lua_pop(L, 1);
      }
      lua_pushnil(L);
      while (lua_next(L, index)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > n) {
          lua_pop(L, 1);
          throw Error(what + ": expected a list {a, b, ...}, got a table with named keys");
        }
      }
      if (any_number && any_string) throw Error(what + ": a list mixes numbers and strings");
      if (any_string) return strings;
      if (any_number && !all_int) return doubles;
      return ints;
    }
    default:
      throw Error(what + ": a " + std::string(luaL_typename(L, index)) +
                  " cannot be an option value (use a boolean, number, string or list)");
  }
}

void push_value(lua_State* L, const Value& value) {
  std::visit(
      [L](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          lua_pushboolean(L, v);
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          lua_pushinteger(L, static_cast<lua_Integer>(v));
        } else if constexpr (std::is_same_v<T, double>) {
          lua_pushnumber(L, v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          lua_pushlstring(L, v.data(), v.size());
        } else {
          lua_createtable(L, static_cast<int>(v.size()), 0);
          for (std::size_t i = 0; i < v.size(); ++i) {
            push_value(L, Value(v[i]));
            lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
          }
        }
      },
      value);
}

Options to_options(lua_State* L, int index, const std::string& what, bool allow_non_finite) {
  Options options;
  if (lua_isnoneornil(L, index)) return options;
  index = lua_absindex(L, index);
  if (!lua_istable(L, index))
    throw Error(what + ": options must be a table, got a " + luaL_typename(L, index));
  lua_pushnil(L);
  while (lua_next(L, index)) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      lua_pop(L, 2);
      throw Error(what + ": option names must be strings (write {name = value})");
    }
    const std::string key = lua_tostring(L, -2);
    try {
      Value value = to_value(L, -1, what + ": option '" + key + "'");
      // An option is a setting: NaN or an infinity (0/0, math.huge) is always a mistake there.
      const auto finite = [](double d) { return std::isfinite(d); };
      const bool ok = std::holds_alternative<double>(value)
                          ? finite(std::get<double>(value))
                          : !std::holds_alternative<std::vector<double>>(value) ||
                                std::all_of(std::get<std::vector<double>>(value).begin(),
                                            std::get<std::vector<double>>(value).end(), finite);
      if (!ok && !allow_non_finite) throw Error(what + ": option '" + key + "' is not a finite number (NaN or infinity)");
      options.set(key, std::move(value));
    } catch (...) {
      lua_pop(L, 2);
      throw;
    }
    lua_pop(L, 1);
  }
  return options;
}

void push_options(lua_State* L, const Options& options) {
  lua_newtable(L);
  for (const auto& [key, value] : options.values()) {
    push_value(L, value);
    lua_setfield(L, -2, key.c_str());
  }
}

Options resolved_options(lua_State* L, int index, const Schema& schema, const std::string& what,
                         const std::set<std::string>& skip) {
  if (lua_isnoneornil(L, index)) return Options().resolve(schema, what);
  if (!lua_istable(L, index)) throw Error(what + ": options must be a table, got a " + luaL_typename(L, index));
  index = lua_absindex(L, index);
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, index)) {
    if (lua_type(L, -2) == LUA_TSTRING && skip.count(lua_tostring(L, -2))) {
      lua_pop(L, 1);
      continue;
    }
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_settable(L, -4);
  }
  Options options;
  try {
    options = to_options(L, -1, what).resolve(schema, what);
  } catch (...) {
    lua_pop(L, 1);
    throw;
  }
  lua_pop(L, 1);
  return options;
}

std::vector<std::map<std::string, double>> attribute_rows(lua_State* L, int table, const std::string& what) {
  std::vector<std::map<std::string, double>> rows;
  lua_getfield(L, table, "attributes");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return rows;
  }
  if (!lua_istable(L, -1)) throw Error(what + ": attributes must be a list of tables, e.g. {{level = 0}, {level = 2}}");
  const lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, -1));
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_rawgeti(L, -1, i);
    if (!lua_istable(L, -1))
      throw Error(what + ": attributes[" + std::to_string(i) + "] must be a table of numbers, e.g. {level = 2}");
    std::map<std::string, double> row;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      if (lua_type(L, -2) != LUA_TSTRING || !lua_isnumber(L, -1))
        throw Error(what + ": attributes[" + std::to_string(i) + "] must map names to numbers");
      row[lua_tostring(L, -2)] = lua_tonumber(L, -1);
      lua_pop(L, 1);
    }
    rows.push_back(std::move(row));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return rows;
}

void raise(lua_State* L, const std::exception& e) {
  luaL_where(L, 1);
  lua_pushstring(L, e.what());
  lua_concat(L, 2);
  lua_error(L);
  std::abort();  // lua_error does not return
}

std::vector<std::string> to_strings(lua_State* L, int index, const std::string& error) {
  if (!lua_istable(L, index)) throw Error(error);
  const Value v = to_value(L, index, error);
  const auto* list = std::get_if<std::vector<std::string>>(&v);
  if (!list) throw Error(error);
  return *list;
}

}  // namespace whatif::lua

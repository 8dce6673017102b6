// Lua ↔ whatif value conversions: every Value type round trips, Lua's integer/float distinction is
// kept, and wrong types are refused with the key and the type named, leaving the Lua stack as found.
#include <catch2/catch.hpp>

#include <limits>
#include <memory>

#include "lua/convert.hpp"
#include "support/error_of.hpp"
#include "whatif/registry/error.hpp"

using whatif::Options;
using whatif::Value;
using whatif::test::error_of;
namespace lua = whatif::lua;

namespace {

struct State {
  std::unique_ptr<lua_State, void (*)(lua_State*)> owner{luaL_newstate(), lua_close};
  lua_State* L = owner.get();
  State() { luaL_openlibs(L); }
  // Pushes the value of a Lua expression.
  void push(const std::string& expression) {
    if (luaL_dostring(L, ("return " + expression).c_str()) != LUA_OK) {
      const std::string message = lua_tostring(L, -1);
      lua_pop(L, 1);
      throw std::runtime_error(message);
    }
  }
  Value value(const std::string& expression) {
    push(expression);
    const int top = lua_gettop(L);
    try {
      Value v = lua::to_value(L, -1, "x");
      CATCH_REQUIRE(lua_gettop(L) == top);
      lua_pop(L, 1);
      return v;
    } catch (...) {
      CATCH_REQUIRE(lua_gettop(L) == top);
      lua_pop(L, 1);
      throw;
    }
  }
  Options options(const std::string& expression) {
    push(expression);
    const int top = lua_gettop(L);
    try {
      Options o = lua::to_options(L, -1, "whatif.schedule(\"cosine\")");
      CATCH_REQUIRE(lua_gettop(L) == top);
      lua_pop(L, 1);
      return o;
    } catch (...) {
      CATCH_REQUIRE(lua_gettop(L) == top);
      lua_pop(L, 1);
      throw;
    }
  }
  // `value` pushed to Lua and read back.
  Value round_trip(const Value& value) {
    lua::push_value(L, value);
    Value back = lua::to_value(L, -1, "x");
    lua_pop(L, 1);
    return back;
  }
  // The Lua expression `check` evaluated with `value` as the global v.
  bool holds(const Value& value, const std::string& check) {
    lua::push_value(L, value);
    lua_setglobal(L, "v");
    push(check);
    const bool ok = lua_toboolean(L, -1) != 0;
    lua_pop(L, 1);
    return ok;
  }
};

using Ints = std::vector<std::int64_t>;
using Doubles = std::vector<double>;
using Strings = std::vector<std::string>;

}  // namespace

CATCH_TEST_CASE("Lua scalars become whatif values, integers and floats kept apart") {
  State s;
  CATCH_REQUIRE(s.value("true") == Value(true));
  CATCH_REQUIRE(s.value("false") == Value(false));
  CATCH_REQUIRE(s.value("3") == Value(std::int64_t{3}));
  CATCH_REQUIRE(s.value("-9007199254740993") == Value(std::int64_t{-9007199254740993}));  // not a double
  CATCH_REQUIRE(s.value("math.maxinteger") == Value(std::numeric_limits<std::int64_t>::max()));
  CATCH_REQUIRE(s.value("3.0") == Value(3.0));  // a float with an integral value stays a float
  CATCH_REQUIRE(s.value("0.1") == Value(0.1));
  CATCH_REQUIRE(s.value("-1/0") == Value(-std::numeric_limits<double>::infinity()));
  CATCH_REQUIRE(s.value("'cosine'") == Value(std::string("cosine")));
  CATCH_REQUIRE(s.value("''") == Value(std::string()));
  CATCH_REQUIRE(s.value("'a\\0b'") == Value(std::string("a\0b", 3)));
}

CATCH_TEST_CASE("Lua lists become int, double or string lists") {
  State s;
  CATCH_REQUIRE(s.value("{32, 64, 64}") == Value(Ints{32, 64, 64}));
  CATCH_REQUIRE(s.value("{1, 2.5}") == Value(Doubles{1.0, 2.5}));  // one float makes it a double list
  CATCH_REQUIRE(s.value("{0.5, 0.25}") == Value(Doubles{0.5, 0.25}));
  CATCH_REQUIRE(s.value("{'a', 'b c', ''}") == Value(Strings{"a", "b c", ""}));
  CATCH_REQUIRE(s.value("{}") == Value(Ints{}));  // untyped; coerce() fits it to any list type
}

CATCH_TEST_CASE("every whatif value round trips through Lua with its type") {
  State s;
  const std::vector<Value> values{Value(true),
                                  Value(false),
                                  Value(std::int64_t{0}),
                                  Value(std::numeric_limits<std::int64_t>::min()),
                                  Value(2.0),
                                  Value(-1e-300),
                                  Value(std::string("läsion \"x\"")),
                                  Value(std::string("nul\0inside", 10)),
                                  Value(Ints{-1, 0, 1}),
                                  Value(Doubles{0.5, 3.0}),
                                  Value(Strings{"t1", "t2", "flair"}),
                                  Value(Strings{std::string("a\0b", 3), ""})};
  for (const Value& v : values) {
    CATCH_CAPTURE(whatif::to_string(v));
    CATCH_REQUIRE(s.round_trip(v) == v);
  }
  // What Lua sees: integers as integers, floats as floats, lists as sequences.
  CATCH_REQUIRE(s.holds(Value(std::int64_t{2}), "math.type(v) == 'integer' and v == 2"));
  CATCH_REQUIRE(s.holds(Value(2.0), "math.type(v) == 'float' and v == 2"));
  CATCH_REQUIRE(s.holds(Value(Doubles{1.0, 2.0}), "#v == 2 and math.type(v[1]) == 'float' and v[2] == 2"));
  CATCH_REQUIRE(s.holds(Value(Strings{"a", "b"}), "#v == 2 and v[1] == 'a' and v[2] == 'b'"));
  CATCH_REQUIRE(s.holds(Value(std::string("a\0b", 3)), "#v == 3"));
}

CATCH_TEST_CASE("option tables become Options and back") {
  State s;
  const Options o = s.options("{steps = 20, lr = 1e-3, name = 'edm', ema = false, channels = {32, 64}}");
  CATCH_REQUIRE(o.keys() == Strings{"channels", "ema", "lr", "name", "steps"});
  CATCH_REQUIRE(o.get_int("steps") == 20);
  CATCH_REQUIRE(o.get_double("lr") == 1e-3);
  CATCH_REQUIRE(o.get_string("name") == "edm");
  CATCH_REQUIRE(o.get_bool("ema") == false);
  CATCH_REQUIRE(o.get_ints("channels") == Ints{32, 64});
  CATCH_REQUIRE(s.options("nil").empty());
  CATCH_REQUIRE(s.options("{}").empty());

  lua::push_options(s.L, o);
  const Options back = lua::to_options(s.L, -1, "back");
  lua_pop(s.L, 1);
  CATCH_REQUIRE((back.values() == o.values()));
}

CATCH_TEST_CASE("wrong types are refused naming the option and the type") {
  State s;
  const auto options_error = [&](const std::string& table) { return error_of([&] { s.options(table); }); };
  const std::string call = "whatif.schedule(\"cosine\")";
  CATCH_REQUIRE(options_error("{steps = 3, f = function() end}") ==
                call + ": option 'f': a function cannot be an option value (use a boolean, number, string or list)");
  CATCH_REQUIRE(options_error("{sizes = {1, true}}") ==
                call + ": option 'sizes': lists hold numbers or strings, element 2 is a boolean");
  CATCH_REQUIRE(options_error("{sizes = {{1, 2}, {3}}}") ==
                call + ": option 'sizes': lists hold numbers or strings, element 1 is a table");
  CATCH_REQUIRE(options_error("{sizes = {1, 2, mode = 'x'}}") ==
                call + ": option 'sizes': expected a list {a, b, ...}, got a table with named keys");
  CATCH_REQUIRE(options_error("{names = {1, 'a'}}") == call + ": option 'names': a list mixes numbers and strings");
  CATCH_REQUIRE(options_error("{20}") == call + ": option names must be strings (write {name = value})");
  CATCH_REQUIRE(options_error("'steps=20'") == call + ": options must be a table, got a string");
  CATCH_REQUIRE(error_of([&] { s.value("print"); }) ==
                "x: a function cannot be an option value (use a boolean, number, string or list)");
}

namespace {

int fails(lua_State*) { throw whatif::Error("schedule/cosine: unknown option 'stepz'"); }

}  // namespace

CATCH_TEST_CASE("a C++ error in a guarded function becomes a Lua error at the script line") {
  State s;
  lua_register(s.L, "fails", &lua::guarded<&fails>);
  const std::string script = "local a = 1\n\nfails()\n";
  CATCH_REQUIRE(luaL_loadbuffer(s.L, script.data(), script.size(), "=experiment.lua") == LUA_OK);
  CATCH_REQUIRE(lua_pcall(s.L, 0, 0, 0) == LUA_ERRRUN);
  CATCH_REQUIRE(std::string(lua_tostring(s.L, -1)) == "experiment.lua:3: schedule/cosine: unknown option 'stepz'");
  lua_pop(s.L, 1);
}

#include "lua/tensor_binding.hpp"

#include <lua.hpp>

#include <ATen/ATen.h>

#include "lua/convert.hpp"
#include "whatif/registry/error.hpp"

namespace whatif::lua {
namespace {

const char* kTensorMeta = "whatif.Tensor";

int tensor_gc(lua_State* L) {
  static_cast<at::Tensor*>(luaL_checkudata(L, 1, kTensorMeta))->~Tensor();
  return 0;
}

int tensor_shape(lua_State* L) {
  const at::Tensor t = check_tensor(L, 1);
  push_value(L, Value(std::vector<std::int64_t>(t.sizes().begin(), t.sizes().end())));
  return 1;
}

template <at::Tensor (*Reduce)(const at::Tensor&)>
int tensor_reduce(lua_State* L) {
  lua_pushnumber(L, Reduce(check_tensor(L, 1).to(at::kDouble)).item<double>());
  return 1;
}
at::Tensor mean_of(const at::Tensor& t) { return t.mean(); }
at::Tensor std_of(const at::Tensor& t) { return t.std(); }
at::Tensor min_of(const at::Tensor& t) { return t.min(); }
at::Tensor max_of(const at::Tensor& t) { return t.max(); }
at::Tensor sum_of(const at::Tensor& t) { return t.sum(); }

// t:select(i) — the i-th (1-based) entry along the first axis.
int tensor_select(lua_State* L) {
  const at::Tensor t = check_tensor(L, 1);
  const lua_Integer i = luaL_checkinteger(L, 2);
  if (i < 1 || i > t.size(0))
    throw Error("tensor:select(" + std::to_string(i) + "): index outside 1.." + std::to_string(t.size(0)));
  push_tensor(L, t.select(0, i - 1));
  return 1;
}

// Elementwise arithmetic with tensors or numbers: a - b, a + b, a * 2, a / b.
at::Tensor operand(lua_State* L, int index) {
  if (lua_type(L, index) == LUA_TNUMBER) return at::scalar_tensor(lua_tonumber(L, index), at::kFloat);
  return check_tensor(L, index);
}
template <int Op>
int tensor_arith(lua_State* L) {
  const at::Tensor a = operand(L, 1), b = operand(L, 2);
  push_tensor(L, Op == 0 ? a + b : Op == 1 ? a - b : Op == 2 ? a * b : a / b);
  return 1;
}

// t:gt(x), t:lt(x) — 1 where the comparison holds, else 0 (float, so :mean() is a fraction).
template <bool Greater>
int tensor_compare(lua_State* L) {
  const at::Tensor t = check_tensor(L, 1), x = operand(L, 2);
  push_tensor(L, (Greater ? t > x : t < x).to(at::kFloat));
  return 1;
}

int tensor_abs(lua_State* L) {
  push_tensor(L, check_tensor(L, 1).abs());
  return 1;
}

int tensor_tostring(lua_State* L) {
  const at::Tensor t = check_tensor(L, 1);
  const std::string text = "Tensor" + c10::str(t.sizes()) + " " + std::string(c10::toString(t.scalar_type()));
  lua_pushstring(L, text.c_str());
  return 1;
}

}  // namespace

void push_tensor(lua_State* L, at::Tensor tensor) {
  void* memory = lua_newuserdatauv(L, sizeof(at::Tensor), 0);
  new (memory) at::Tensor(std::move(tensor));
  luaL_setmetatable(L, kTensorMeta);
}

at::Tensor check_tensor(lua_State* L, int index) {
  return *static_cast<at::Tensor*>(luaL_checkudata(L, index, kTensorMeta));
}

void open_tensor(lua_State* L) {
  static const luaL_Reg tensor_methods[] = {{"shape", guarded<tensor_shape>},
                                            {"mean", guarded<tensor_reduce<mean_of>>},
                                            {"std", guarded<tensor_reduce<std_of>>},
                                            {"min", guarded<tensor_reduce<min_of>>},
                                            {"max", guarded<tensor_reduce<max_of>>},
                                            {"sum", guarded<tensor_reduce<sum_of>>},
                                            {"select", guarded<tensor_select>},
                                            {"gt", guarded<tensor_compare<true>>},
                                            {"lt", guarded<tensor_compare<false>>},
                                            {"abs", guarded<tensor_abs>},
                                            {nullptr, nullptr}};
  luaL_newmetatable(L, kTensorMeta);
  lua_pushcfunction(L, tensor_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, guarded<tensor_tostring>);
  lua_setfield(L, -2, "__tostring");
  for (const auto& [name, fn] : {std::pair<const char*, lua_CFunction>{"__add", guarded<tensor_arith<0>>},
                                 {"__sub", guarded<tensor_arith<1>>},
                                 {"__mul", guarded<tensor_arith<2>>},
                                 {"__div", guarded<tensor_arith<3>>}}) {
    lua_pushcfunction(L, fn);
    lua_setfield(L, -2, name);
  }
  lua_newtable(L);
  luaL_setfuncs(L, tensor_methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

}  // namespace whatif::lua

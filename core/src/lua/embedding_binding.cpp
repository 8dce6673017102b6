#include "lua/embedding_binding.hpp"

#include <lua.hpp>

#include "clip/retrieval.hpp"
#include "lua/convert.hpp"
#include "lua/tensor_binding.hpp"
#include "whatif/registry/error.hpp"

namespace whatif::lua {
namespace {

// The entries of a 1-D tensor as a Lua list.
void push_list(lua_State* L, const at::Tensor& values) {
  lua_createtable(L, static_cast<int>(values.size(0)), 0);
  for (std::int64_t i = 0; i < values.size(0); ++i) {
    lua_pushnumber(L, values[i].item<double>());
    lua_rawseti(L, -2, i + 1);
  }
}

// whatif.retrieval(image_embeddings, text_embeddings, {labels = {...}, k = {1, 5, 10}})
// → {image_to_text_r1 =, text_to_image_r1 =, chance_r1 =, ...}
int retrieval(lua_State* L) {
  const at::Tensor images = check_tensor(L, 1), texts = check_tensor(L, 2);
  static const Schema schema{
      {"labels", OptionType::StringList, std::vector<std::string>{},
       "one label per example; a retrieved item is a hit when its label equals the query's (default: only itself)"},
      {"k", OptionType::IntList, std::vector<std::int64_t>{1, 5, 10}, "the k of Recall@k"}};
  lua_settop(L, 3);
  if (lua_isnil(L, 3)) {
    lua_newtable(L);
    lua_replace(L, 3);
  }
  const Options o = resolved_options(L, 3, schema, "whatif.retrieval");
  const auto labels = o.get_strings("labels");
  const auto ks = o.get_ints("k");
  lua_newtable(L);
  for (const auto& [name, value] : retrieval_recall(images, texts, labels, ks)) {
    lua_pushnumber(L, value);
    lua_setfield(L, -2, name.c_str());
  }
  return 1;
}

// whatif.zero_shot(image_embeddings, positive_embeddings, negative_embeddings) → {score, ...}
int zero_shot(lua_State* L) {
  push_list(L, zero_shot_scores(check_tensor(L, 1), check_tensor(L, 2), check_tensor(L, 3)));
  return 1;
}

// whatif.clip_score(image_embeddings, text_embeddings) → mean, {score per example}
int clip_score(lua_State* L) {
  const at::Tensor scores = clip_scores(check_tensor(L, 1), check_tensor(L, 2));
  lua_pushnumber(L, scores.numel() > 0 ? scores.mean().item<double>() : 0.0 / 0.0);
  push_list(L, scores);
  return 2;
}

// A Lua list of numbers (or booleans) at `index`.
std::vector<double> numbers(lua_State* L, int index, const char* what) {
  luaL_checktype(L, index, LUA_TTABLE);
  const lua_Integer n = luaL_len(L, index);
  std::vector<double> out;
  for (lua_Integer i = 1; i <= n; ++i) {
    lua_rawgeti(L, index, i);
    if (lua_isboolean(L, -1))
      out.push_back(lua_toboolean(L, -1) ? 1 : 0);
    else if (lua_isnumber(L, -1))
      out.push_back(lua_tonumber(L, -1));
    else
      throw Error(std::string("whatif.auc: ") + what + "[" + std::to_string(i) + "] is not a number");
    lua_pop(L, 1);
  }
  return out;
}

// whatif.auc(scores, labels) → ROC AUC; labels are booleans or 0/1.
int auc(lua_State* L) {
  const auto scores = numbers(L, 1, "scores"), raw = numbers(L, 2, "labels");
  std::vector<bool> labels;
  for (const double v : raw) {
    if (v != 0 && v != 1) throw Error("whatif.auc: labels must be true/false or 0/1");
    labels.push_back(v == 1);
  }
  lua_pushnumber(L, data::roc_auc(scores, labels));
  return 1;
}

}  // namespace

void open_embedding(lua_State* L) {
  for (const auto& [name, fn] : {std::pair<const char*, lua_CFunction>{"retrieval", guarded<retrieval>},
                                 {"zero_shot", guarded<zero_shot>},
                                 {"clip_score", guarded<clip_score>},
                                 {"auc", guarded<auc>}}) {
    lua_pushcfunction(L, fn);
    lua_setfield(L, -2, name);
  }
}

}  // namespace whatif::lua

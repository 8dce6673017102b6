#include "lua/model_binding.hpp"

#include <lua.hpp>

#include <filesystem>

#include "lua/component_binding.hpp"
#include "lua/convert.hpp"
#include "lua/module.hpp"
#include "lua/tensor_binding.hpp"
#include "model/requests.hpp"
#include "whatif/model_family.hpp"
#include "whatif/registry/error.hpp"
#include "whatif/text.hpp"

namespace whatif::lua {
namespace {

const char* kModelMeta = "whatif.Model";

struct ModelBox {
  std::shared_ptr<Model> model;
  const ModelFamily* family;
};

ModelBox& check_model(lua_State* L, int index) {
  return *static_cast<ModelBox*>(luaL_checkudata(L, index, kModelMeta));
}

// whatif.model(family, {part = component, option = value, ...})
int model_new_named(lua_State* L, const std::string& name, int table) {
  const ModelFamily& family = model_family(name);
  const std::string what = "whatif." + name;
  if (!lua_istable(L, table)) throw Error(what + ": expected a table of parts and options");
  ModelParts parts;
  parts.family = name;
  lua_newtable(L);  // the options
  const int options = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, table)) {
    if (lua_type(L, -2) != LUA_TSTRING) throw Error(what + ": fields are named, e.g. {denoiser = ...}");
    const std::string key = lua_tostring(L, -2);
    if (std::find(family.parts.begin(), family.parts.end(), key) != family.parts.end()) {
      parts.parts[key] = check_component(L, -1);
      lua_pop(L, 1);
    } else {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_settable(L, options);
    }
  }
  parts.options = resolved_options(L, options, family.options, what);
  lua_pop(L, 1);
  void* memory = lua_newuserdatauv(L, sizeof(ModelBox), 0);
  new (memory) ModelBox{family.make(parts), &family};
  luaL_setmetatable(L, kModelMeta);
  return 1;
}

int model_new(lua_State* L) { return model_new_named(L, luaL_checkstring(L, 1), 2); }

int family_new(lua_State* L) { return model_new_named(L, lua_tostring(L, lua_upvalueindex(1)), 1); }

// model:fit(dataset, {steps=, batch_size=, ...}) → {losses = {...}, steps = n, seconds = s, <log> = {...}}
int model_fit(lua_State* L) {
  auto& box = check_model(L, 1);
  const auto dataset = check_dataset(L, 2, "model:fit");
  const Options o = resolved_options(L, 3, fit_fields().schema(), "model:fit");
  FitRequest request = fit_request(L, o, true, box.family->name.c_str());
  // Tokenizer files go beside the checkpoint (the arm's folder), else into the run directory.
  request.tokenizer_dir = request.train.checkpoint.empty()
                              ? run_path(L, "tokenizer")
                              : (std::filesystem::path(request.train.checkpoint).parent_path() / "tokenizer").string();
  const FitResult result = box.model->fit(*dataset, request);
  push_fit_result(L, result.train, result.logs);
  return 1;
}

// Pushes a generation's volumes, then a table of what else it holds: texts, tokens, latents.
// {texts =, tokens =, latents =}: what a generation holds beside its volumes.
void push_extras(lua_State* L, const Generation& g) {
  lua_newtable(L);
  if (!g.texts.empty()) {
    push_value(L, Value(g.texts));
    lua_setfield(L, -2, "texts");
  }
  for (const auto& [name, t] : {std::pair<const char*, const at::Tensor*>{"tokens", &g.tokens}, {"latents", &g.latents}})
    if (t->defined()) {
      push_tensor(L, *t);
      lua_setfield(L, -2, name);
    }
}

void push_generation(lua_State* L, const Generation& g) {
  push_tensor(L, g.volumes);
  push_extras(L, g);
}

// t.prior as a tensor (the volumes a progression or an edit starts from), or undefined when absent.
at::Tensor prior_field(lua_State* L, int table) {
  if (!lua_istable(L, table)) return {};
  lua_getfield(L, table, "prior");
  at::Tensor prior = lua_isnil(L, -1) ? at::Tensor() : check_tensor(L, -1);
  lua_pop(L, 1);
  return prior;
}

// model:generate{prompts = {...} | attributes = {{...}, ...} | count = n, prior = volumes, seed =, ...}
// → volumes, {texts =, tokens =, latents =}
int model_generate(lua_State* L) {
  auto& box = check_model(L, 1);
  const Options o = resolved_options(L, 2, generate_schema(*box.family), "model:generate", {"attributes", "prior"});
  GenerateRequest request;
  request.condition.prior = prior_field(L, 2);
  condition_fields().read(o, request.condition);
  request.sampling = read_sampling(o, *box.family);
  decoding_fields().read(o, request.decoding);
  if (lua_istable(L, 2)) request.condition.attributes = attribute_rows(L, 2, "model:generate");
  if (!request.condition.attributes.empty() && !request.condition.prompts.empty())
    throw Error("model:generate: give prompts or attributes, not both");
  const Generation g = box.model->generate(request);
  push_generation(L, g);
  return 2;
}

// model:counterfactual{protocol = "fixed-noise", prompts = {a, b} | attributes = {{a}, {b}}, seed =, ...}
//   → factual volumes, counterfactual volumes, {factual = {texts =, ...}, counterfactual = {...}}
// model:counterfactual{protocol = "prior-conditioned", prior = volumes, prompts = {a, b}, ...}: the
//   same, both sides continuing the same prior (autoregressive models; texts = interpretations)
// model:counterfactual{protocol = "inversion", source = tensor, factual = "...", counterfactual = "..."
//                      | attributes = {{factual}, {counterfactual}}, strength =, ...} → edited volumes
int model_counterfactual(lua_State* L) {
  auto& box = check_model(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  Schema schema = counterfactual_schema(*box.family);
  schema.push_back({"prompts", OptionType::StringList, std::vector<std::string>{}, "fixed-noise: {factual, counterfactual}"});
  schema.push_back({"factual", OptionType::String, std::string(), "inversion: prompt of the source"});
  schema.push_back({"counterfactual", OptionType::String, std::string(), "inversion: prompt to edit towards"});
  const Options o = resolved_options(L, 2, schema, "model:counterfactual", {"attributes", "source", "prior"});
  CounterfactualRequest r;
  // prior-conditioned: both sides continue the same prior volumes.
  r.factual.prior = r.counterfactual.prior = prior_field(L, 2);
  counterfactual_fields().read(o, r);
  r.sampling = read_sampling(o, *box.family);
  decoding_fields().read(o, r.decoding);
  const auto rows = attribute_rows(L, 2, "model:counterfactual");
  const auto prompts = o.get_strings("prompts");
  const std::string factual = o.get_string("factual"), counterfactual = o.get_string("counterfactual");
  if (r.protocol == "inversion") {
    lua_getfield(L, 2, "source");
    r.source = check_tensor(L, -1);
    lua_pop(L, 1);
    const auto n = static_cast<std::size_t>(r.source.size(0));
    if (!rows.empty()) {
      if (rows.size() != 2 || !factual.empty() || !counterfactual.empty())
        throw Error("inversion counterfactual: give factual = and counterfactual = prompts, or attributes = "
                    "{{factual}, {counterfactual}}");
      r.factual.attributes.assign(n, rows[0]);
      r.counterfactual.attributes.assign(n, rows[1]);
    } else {
      r.factual.prompts.assign(n, factual);
      r.counterfactual.prompts.assign(n, counterfactual);
    }
    push_tensor(L, box.model->counterfactual(r).counterfactual.volumes);
    return 1;
  }
  const bool by_prompts = rows.empty() && prompts.size() == 2, by_attributes = rows.size() == 2 && prompts.empty();
  if (!by_prompts && !by_attributes)
    throw Error(r.protocol + " counterfactual: give prompts = {factual, counterfactual} or attributes = "
                "{{factual}, {counterfactual}}");
  if (by_prompts) {
    r.factual.prompts = {prompts[0]};
    r.counterfactual.prompts = {prompts[1]};
  } else {
    r.factual.attributes = {rows[0]};
    r.counterfactual.attributes = {rows[1]};
  }
  const Pair pair = box.model->counterfactual(r);
  push_tensor(L, pair.factual.volumes);
  push_tensor(L, pair.counterfactual.volumes);
  lua_newtable(L);  // {factual = {texts =, tokens =, ...}, counterfactual = {...}}
  push_extras(L, pair.factual);
  lua_setfield(L, -2, "factual");
  push_extras(L, pair.counterfactual);
  lua_setfield(L, -2, "counterfactual");
  return 3;
}

// model:embed{images = volumes} or model:embed{texts = {...}} → unit embeddings [N, dim] of a
// family with a joint image–text space (whatif.clip).
int model_embed(lua_State* L) {
  auto& box = check_model(L, 1);
  auto* joint = dynamic_cast<JointEmbedding*>(box.model.get());
  if (!joint)
    throw Error("model:embed: whatif." + box.family->name + " has no joint image–text space (whatif.clip has)");
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_getfield(L, 2, "images");
  lua_getfield(L, 2, "texts");
  const bool images = !lua_isnil(L, -2), texts = !lua_isnil(L, -1);
  if (images == texts) throw Error("model:embed: give images = volumes, or texts = {...}: one of them");
  if (images) {
    push_tensor(L, joint->embed_images(check_tensor(L, -2)));
    return 1;
  }
  push_tensor(L, joint->embed_texts(to_strings(L, lua_gettop(L), "model:embed: 'texts' must be a list of strings")));
  return 1;
}

// model:text_encoder{frozen = true} → the text tower of a joint space as a text component
// (text/clip) for another model's `text =`.
int model_text_encoder(lua_State* L) {
  auto& box = check_model(L, 1);
  auto* joint = dynamic_cast<JointEmbedding*>(box.model.get());
  if (!joint)
    throw Error("model:text_encoder: whatif." + box.family->name + " has no text tower of its own (whatif.clip has)");
  static const Schema schema{{"frozen", OptionType::Bool, true, "leave the tower out of the other model's training"}};
  lua_settop(L, 2);
  if (lua_isnil(L, 2)) {
    lua_newtable(L);
    lua_replace(L, 2);
  }
  push_component(L, joint->text_encoder(resolved_options(L, 2, schema, "model:text_encoder").get_bool("frozen")));
  return 1;
}

int model_save(lua_State* L) {
  check_model(L, 1).model->save(run_path(L, luaL_checkstring(L, 2)));
  return 0;
}

int model_load(lua_State* L) {
  check_model(L, 1).model->load(run_path(L, luaL_checkstring(L, 2), true));
  return 0;
}

int model_config(lua_State* L) {
  lua_pushstring(L, check_model(L, 1).model->config_json().c_str());
  return 1;
}

int model_gc(lua_State* L) {
  static_cast<ModelBox*>(luaL_checkudata(L, 1, kModelMeta))->~ModelBox();
  return 0;
}

}  // namespace

void open_models(lua_State* L) {
  static const luaL_Reg methods[] = {{"fit", guarded<model_fit>},
                                     {"generate", guarded<model_generate>},
                                     {"counterfactual", guarded<model_counterfactual>},
                                     {"embed", guarded<model_embed>},
                                     {"text_encoder", guarded<model_text_encoder>},
                                     {"save", guarded<model_save>},
                                     {"load", guarded<model_load>},
                                     {"config", guarded<model_config>},
                                     {nullptr, nullptr}};
  luaL_newmetatable(L, kModelMeta);
  lua_pushcfunction(L, model_gc);
  lua_setfield(L, -2, "__gc");
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);

  lua_pushcfunction(L, guarded<model_new>);
  lua_setfield(L, -2, "model");
  for (const auto& name : model_family_names()) {
    lua_pushstring(L, name.c_str());
    lua_pushcclosure(L, guarded<family_new>, 1);
    lua_setfield(L, -2, name.c_str());
  }
}

}  // namespace whatif::lua

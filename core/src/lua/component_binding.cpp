#include "lua/component_binding.hpp"

#include <lua.hpp>

#include <ATen/ATen.h>

#include "lua/convert.hpp"
#include "lua/geometry_binding.hpp"
#include "lua/module.hpp"
#include "lua/tensor_binding.hpp"
#include "model/requests.hpp"
#include "results/geometry_json.hpp"
#include "train/fit_encoder.hpp"
#include "whatif/encoder.hpp"
#include "whatif/metric.hpp"
#include "whatif/registry/error.hpp"
#include "whatif/schedule.hpp"
#include "whatif/text.hpp"

namespace whatif::lua {
namespace {

const char* kComponentMeta = "whatif.Component";
using ComponentBox = std::shared_ptr<Component>;

int component_gc(lua_State* L) {
  static_cast<ComponentBox*>(luaL_checkudata(L, 1, kComponentMeta))->~ComponentBox();
  return 0;
}

int component_tostring(lua_State* L) {
  const auto c = check_component(L, 1);
  const std::string text = c->identity().label() + " " + c->hyperparams().to_json();
  lua_pushstring(L, text.c_str());
  return 1;
}

int component_hyperparams(lua_State* L) {
  push_options(L, check_component(L, 1)->hyperparams());
  return 1;
}

int component_kind(lua_State* L) {
  lua_pushstring(L, check_component(L, 1)->identity().kind.c_str());
  return 1;
}

int component_name(lua_State* L) {
  lua_pushstring(L, check_component(L, 1)->identity().name.c_str());
  return 1;
}

template <class T>
std::shared_ptr<T> check_kind(lua_State* L, const char* method, const char* kind) {
  auto typed = std::dynamic_pointer_cast<T>(check_component(L, 1));
  if (!typed) throw Error(std::string(method) + " is a method of " + kind);
  return typed;
}

void push_numbers(lua_State* L, const std::map<std::string, double>& values) {
  lua_newtable(L);
  for (const auto& [k, v] : values) {
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k.c_str());
  }
}

// Schedules ----------------------------------------------------------------------------------

// schedule:logsnr(t) → λ(t)
int schedule_logsnr(lua_State* L) {
  const auto schedule = check_kind<Schedule>(L, "logsnr", "schedules");
  lua_pushnumber(L, schedule->logsnr(at::scalar_tensor(luaL_checknumber(L, 2), at::kDouble)).item<double>());
  return 1;
}

// schedule:alpha_sigma(t) → α, σ
int schedule_alpha_sigma(lua_State* L) {
  const auto schedule = check_kind<Schedule>(L, "alpha_sigma", "schedules");
  const auto [alpha, sigma] = schedule->alpha_sigma(at::scalar_tensor(luaL_checknumber(L, 2), at::kDouble));
  lua_pushnumber(L, alpha.item<double>());
  lua_pushnumber(L, sigma.item<double>());
  return 2;
}

// Metrics ------------------------------------------------------------------------------------

// metric:update{generated = t, reference = t, source = t, attributes = {name = v | {v, ...}}}
int metric_update(lua_State* L) {
  const auto metric = check_kind<Metric>(L, "update", "metrics");
  luaL_checktype(L, 2, LUA_TTABLE);
  MetricItem item;
  for (const auto& [field, slot] : {std::pair<const char*, at::Tensor*>{"generated", &item.generated},
                                    {"reference", &item.reference}, {"source", &item.source}}) {
    lua_getfield(L, 2, field);
    if (!lua_isnil(L, -1)) *slot = check_tensor(L, -1);
    lua_pop(L, 1);
  }
  for (const auto& [field, slot] : {std::pair<const char*, std::vector<std::string>*>{"texts", &item.texts},
                                    {"reference_texts", &item.reference_texts}}) {
    lua_getfield(L, 2, field);
    if (!lua_isnil(L, -1)) {
      *slot = to_strings(L, lua_gettop(L), std::string("metric:update: '") + field + "' must be a list of strings");
    }
    lua_pop(L, 1);
  }
  lua_getfield(L, 2, "attributes");
  if (!lua_isnil(L, -1)) {
    const Options attributes = to_options(L, lua_gettop(L), "metric:update attributes");
    for (const auto& [name, value] : attributes.values()) {
      const bool list = type_of(value) == OptionType::IntList || type_of(value) == OptionType::DoubleList;
      const Value v = coerce(value, list ? OptionType::DoubleList : OptionType::Double,
                             "metric:update attribute '" + name + "'");
      item.attributes[name] = std::holds_alternative<double>(v)
                                  ? at::full({1}, std::get<double>(v), at::kDouble)
                                  : at::tensor(std::get<std::vector<double>>(v), at::kDouble);
    }
  }
  lua_pop(L, 1);
  lua_pushnil(L);
  while (lua_next(L, 2)) {
    const std::string key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    if (key != "generated" && key != "reference" && key != "source" && key != "attributes" && key != "texts" &&
        key != "reference_texts")
      throw Error("metric:update: unknown field '" + key +
                  "' (generated, reference, source, attributes, texts, reference_texts)");
    lua_pop(L, 1);
  }
  metric->update(item);
  return 0;
}

// metric:compute() → {name = value}
int metric_compute(lua_State* L) {
  push_numbers(L, check_kind<Metric>(L, "compute", "metrics")->compute());
  return 1;
}

int metric_reset(lua_State* L) {
  check_kind<Metric>(L, "reset", "metrics")->reset();
  return 0;
}

// metric:fit(dataset, {seed = 0}) → what the metric measured on real data, e.g.
// {classifier_heldout_accuracy = 0.94}
int metric_fit(lua_State* L) {
  const auto metric = check_kind<Metric>(L, "fit", "metrics");
  const auto dataset = check_dataset(L, 2, "metric:fit");
  const Options o = resolved_options(L, 3, {{"seed", OptionType::Int, std::int64_t{0}, "training randomness"}},
                                     "metric:fit");
  push_numbers(L, metric->fit(*dataset, static_cast<std::uint64_t>(o.get_int("seed"))));
  return 1;
}

// Encoders -----------------------------------------------------------------------------------

// encoder:fit(dataset, {steps=, batch_size=, ...}) → {losses, steps, seconds, scale, <log> = {...}}
// trains a learnable encoder (kl-vae) with its own loss, then calibrates its latent scale.
int encoder_fit(lua_State* L) {
  const auto encoder = check_kind<Encoder>(L, "fit", "encoders, metrics and models");
  const auto dataset = check_dataset(L, 2, "encoder:fit");
  const Options o = resolved_options(L, 3, part_fit_fields().schema(), "encoder:fit");
  const FitRequest request = fit_request(L, o, false, "encoder");
  const EncoderFit result = fit_encoder(*encoder, *dataset, request.train, request.batch_size);
  push_fit_result(L, result.train, result.logs);
  lua_pushnumber(L, result.scale);
  lua_setfield(L, -2, "scale");
  lua_pushnumber(L, result.recon_psnr);
  lua_setfield(L, -2, "recon_psnr");
  return 1;
}

// text:encode{"a", "b"} → pooled [N, width], tokens [N, T, width], mask [N, T] (1 = a real token):
// one pass in eval mode without gradients (to inspect what a text tower makes of prompts).
int text_encode(lua_State* L) {
  const auto text = std::dynamic_pointer_cast<TextEncoder>(check_component(L, 1));
  const std::string error = "text:encode: give a list of strings, e.g. {\"high lesion load\"}";
  const auto texts = to_strings(L, 2, error);
  if (texts.empty()) throw Error(error);
  at::NoGradGuard no_grad;
  text->train(false);
  const TextEmbedding e = text->encode(texts);
  push_tensor(L, e.pooled.to(at::kFloat));
  push_tensor(L, e.tokens.to(at::kFloat));
  push_tensor(L, e.mask.to(at::kFloat));
  return 3;
}

// encoder:encode(x) / encoder:decode(z): one pass in eval mode without gradients.
template <bool Encode>
int encoder_pass(lua_State* L) {
  if (Encode && std::dynamic_pointer_cast<TextEncoder>(check_component(L, 1))) return text_encode(L);
  const auto encoder = check_kind<Encoder>(L, Encode ? "encode" : "decode", "encoders");
  at::NoGradGuard no_grad;
  encoder->train(false);
  const at::Tensor x = check_tensor(L, 2);
  push_tensor(L, Encode ? encoder->encode(x) : encoder->decode(x));
  return 1;
}

int component_fit(lua_State* L) {
  if (std::dynamic_pointer_cast<Metric>(check_component(L, 1))) return metric_fit(L);
  return encoder_fit(L);
}

// Datasets -----------------------------------------------------------------------------------

// dataset:images(first, count) → Tensor [count, C, (D,) H, W] of examples first … first+count−1
// (1-based).
// dataset:METHOD(first, count)'s arguments, checked against the dataset's size: the 0-based range.
std::pair<lua_Integer, lua_Integer> example_range(lua_State* L, const Dataset& dataset, const char* method) {
  const lua_Integer first = luaL_checkinteger(L, 2), count = luaL_optinteger(L, 3, 1);
  if (first < 1 || count < 1 || first - 1 + count > dataset.size())
    throw Error(std::string("dataset:") + method + "(" + std::to_string(first) + ", " + std::to_string(count) +
                "): the dataset has " + std::to_string(dataset.size()) + " examples (1-based)");
  return {first - 1, first - 1 + count};
}

int dataset_images(lua_State* L) {
  const auto dataset = check_dataset(L, 1, "images");
  const auto [begin, end] = example_range(L, *dataset, "images");
  std::vector<at::Tensor> images;
  for (lua_Integer i = begin; i < end; ++i) images.push_back(dataset->get(i).image);
  push_tensor(L, at::stack(images));
  return 1;
}

// dataset:texts(first, count) → {text of example first, ...} (1-based), what Example::text holds.
int dataset_texts(lua_State* L) {
  const auto dataset = check_dataset(L, 1, "texts");
  const auto [begin, end] = example_range(L, *dataset, "texts");
  std::vector<std::string> texts;
  for (lua_Integer i = begin; i < end; ++i) texts.push_back(dataset->get(i).text);
  push_value(L, Value(texts));
  return 1;
}

// dataset:attributes(first, count) → {{name = value, ...}, ...} (1-based): each example's attributes.
int dataset_attributes(lua_State* L) {
  const auto dataset = check_dataset(L, 1, "attributes");
  const auto [begin, end] = example_range(L, *dataset, "attributes");
  lua_createtable(L, static_cast<int>(end - begin), 0);
  for (lua_Integer i = begin; i < end; ++i) {
    lua_newtable(L);
    for (const auto& [name, value] : dataset->get(i).attributes) {
      lua_pushnumber(L, value);
      lua_setfield(L, -2, name.c_str());
    }
    lua_rawseti(L, -2, i - begin + 1);
  }
  return 1;
}

// dataset:pairs() → {{factual, counterfactual}, ...}: the dataset's ground-truth pairs, 1-based.
int dataset_pairs(lua_State* L) {
  const auto pairs = check_dataset(L, 1, "pairs")->pairs();
  lua_createtable(L, static_cast<int>(pairs.size()), 0);
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    lua_createtable(L, 2, 0);
    lua_pushinteger(L, pairs[i].first + 1);
    lua_rawseti(L, -2, 1);
    lua_pushinteger(L, pairs[i].second + 1);
    lua_rawseti(L, -2, 2);
    lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
  }
  return 1;
}

// dataset:size() → number of examples
int dataset_size(lua_State* L) {
  lua_pushinteger(L, check_dataset(L, 1, "size")->size());
  return 1;
}

// dataset:geometry([i]) → {spacing = {x, y, z}, origin = {x, y, z}, direction = {9 numbers}} of
// example i (1-based, default 1), in mm and ITK's LPS convention.
int dataset_geometry(lua_State* L) {
  const auto dataset = check_dataset(L, 1, "geometry");
  const lua_Integer i = luaL_optinteger(L, 2, 1);
  if (i < 1 || i > dataset->size())
    throw Error("dataset:geometry(" + std::to_string(i) + "): the dataset has " + std::to_string(dataset->size()) +
                " examples (1-based)");
  push_geometry(L, example_geometry(dataset->get(i - 1)));
  return 1;
}

}  // namespace

void push_component(lua_State* L, std::shared_ptr<Component> component) {
  void* memory = lua_newuserdatauv(L, sizeof(ComponentBox), 0);
  new (memory) ComponentBox(std::move(component));
  luaL_setmetatable(L, kComponentMeta);
}

std::shared_ptr<Component> check_component(lua_State* L, int index) {
  return *static_cast<ComponentBox*>(luaL_checkudata(L, index, kComponentMeta));
}

std::shared_ptr<Dataset> check_dataset(lua_State* L, int index, const char* method) {
  auto dataset = std::dynamic_pointer_cast<Dataset>(check_component(L, index));
  if (!dataset) throw Error(std::string(method) + ": the first argument must be a dataset");
  return dataset;
}

FitRequest fit_request(lua_State* L, const Options& o, bool with_data_options, const char* label) {
  FitRequest request;
  (with_data_options ? fit_fields() : part_fit_fields()).read(o, request);
  if (!request.train.checkpoint.empty()) request.train.checkpoint = run_path(L, request.train.checkpoint);
  if (!request.latent_cache.empty()) request.latent_cache = run_path(L, request.latent_cache);
  request.train.label = label;
  return request;
}

void push_fit_result(lua_State* L, const TrainResult& train, const std::map<std::string, std::vector<double>>& logs) {
  lua_newtable(L);
  push_value(L, Value(train.losses));
  lua_setfield(L, -2, "losses");
  for (const auto& [name, values] : logs) {
    push_value(L, Value(values));
    lua_setfield(L, -2, name.c_str());
  }
  lua_pushinteger(L, train.steps_done);
  lua_setfield(L, -2, "steps");
  lua_pushnumber(L, train.seconds);
  lua_setfield(L, -2, "seconds");
}

void open_components(lua_State* L) {
  static const luaL_Reg methods[] = {{"hyperparams", guarded<component_hyperparams>},
                                     {"kind", guarded<component_kind>},
                                     {"name", guarded<component_name>},
                                     {"logsnr", guarded<schedule_logsnr>},
                                     {"alpha_sigma", guarded<schedule_alpha_sigma>},
                                     {"update", guarded<metric_update>},
                                     {"compute", guarded<metric_compute>},
                                     {"reset", guarded<metric_reset>},
                                     {"fit", guarded<component_fit>},
                                     {"encode", guarded<encoder_pass<true>>},
                                     {"decode", guarded<encoder_pass<false>>},
                                     {"images", guarded<dataset_images>},
                                     {"size", guarded<dataset_size>},
                                     {"geometry", guarded<dataset_geometry>},
                                     {"texts", guarded<dataset_texts>},
                                     {"attributes", guarded<dataset_attributes>},
                                     {"pairs", guarded<dataset_pairs>},
                                     {nullptr, nullptr}};
  luaL_newmetatable(L, kComponentMeta);
  lua_pushcfunction(L, component_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, guarded<component_tostring>);
  lua_setfield(L, -2, "__tostring");
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

}  // namespace whatif::lua

#include "lua/diffusion_binding.hpp"

#include <lua.hpp>

#include <filesystem>
#include <map>
#include <set>

#include <ATen/ATen.h>

#include "diffusion/diffusion_model.hpp"
#include "train/fit_encoder.hpp"
#include "lua/convert.hpp"
#include "lua/module.hpp"
#include "whatif/metric.hpp"
#include "whatif/registry/error.hpp"

namespace whatif::lua {
namespace {

const char* kModelMeta = "whatif.DiffusionModel";
const char* kTensorMeta = "whatif.Tensor";

using ModelBox = std::shared_ptr<DiffusionModel>;

template <class T>
std::shared_ptr<T> part(lua_State* L, int table, const char* field, bool required) {
  lua_getfield(L, table, field);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    if (required) throw Error(std::string("whatif.diffusion: '") + field + "' is required");
    return nullptr;
  }
  auto typed = std::dynamic_pointer_cast<T>(check_component(L, -1));
  lua_pop(L, 1);
  if (!typed) throw Error(std::string("whatif.diffusion: '") + field + "' is a component of another kind");
  return typed;
}

// Options tables are checked against a schema, so a misspelled key is refused by name.
Options options_of(lua_State* L, int index, const Schema& schema, const std::string& what) {
  return to_options(L, index, what).resolve(schema, what);
}

const Schema kProcessSchema{
    {"target", OptionType::String, std::string("v"), "eps | x | v | flow"},
    {"weighting", OptionType::String, std::string("uniform"), "uniform | min-snr | sigmoid"},
    {"min_snr_gamma", OptionType::Double, 5.0, "γ of min-SNR weighting"},
    {"sigmoid_bias", OptionType::Double, -3.0, "b of sigmoid weighting"},
    {"multiscale", OptionType::Int, std::int64_t{0}, "extra coarser scales in the loss"},
};

const Schema kFitSchema{
    {"steps", OptionType::Int, std::int64_t{1000}, "optimizer steps"},
    {"batch_size", OptionType::Int, std::int64_t{8}, "examples per micro-batch"},
    {"accumulate", OptionType::Int, std::int64_t{1}, "micro-batches per step"},
    {"lr", OptionType::Double, 1e-3, "peak learning rate"},
    {"warmup", OptionType::Int, std::int64_t{100}, "linear warmup steps"},
    {"min_lr_ratio", OptionType::Double, 0.1, "final lr / peak lr"},
    {"weight_decay", OptionType::Double, 0.0, "AdamW weight decay"},
    {"grad_clip", OptionType::Double, 1.0, "global gradient norm clip (0 = off)"},
    {"ema_decay", OptionType::Double, 0.999, "EMA decay (0 = off)"},
    {"bf16", OptionType::Bool, false, "bf16 autocast"},
    {"seed", OptionType::Int, std::int64_t{0}, "training seed"},
    {"checkpoint", OptionType::String, std::string(""), "checkpoint file (relative to the run directory)"},
    {"checkpoint_every", OptionType::Int, std::int64_t{0}, "steps between checkpoints (0 = end only)"},
};

const Schema kGenerateSchema{
    {"prompts", OptionType::StringList, std::vector<std::string>{}, "one sample per prompt"},
    {"count", OptionType::Int, std::int64_t{0}, "unconditional samples"},
    {"seed", OptionType::Int, std::int64_t{0}, "seed of z_T"},
    {"guidance", OptionType::Double, 1.0, "classifier-free guidance w (0 = unconditional)"},
    {"steps", OptionType::Int, std::int64_t{50}, "sampler steps"},
    {"decode_tile", OptionType::Int, std::int64_t{0}, "decode tile by tile, this many latent voxels a side (0 = whole)"},
    {"decode_overlap", OptionType::Int, std::int64_t{4}, "overlap of decoding tiles, latent voxels"},
};

std::string run_path(lua_State* L, const std::string& path) {
  lua_getglobal(L, "whatif");
  lua_getfield(L, -1, "run_dir");
  const std::string run_dir = lua_tostring(L, -1) ? lua_tostring(L, -1) : "";
  lua_pop(L, 2);
  const std::filesystem::path p(path);
  return p.is_absolute() || run_dir.empty() ? path : (std::filesystem::path(run_dir) / p).string();
}

ModelBox& check_model(lua_State* L, int index) {
  return *static_cast<ModelBox*>(luaL_checkudata(L, index, kModelMeta));
}

// A shallow copy of the table at `index` without `keys`, pushed on the stack: the caller's table
// is left as it was.
void push_copy_without(lua_State* L, int index, const std::set<std::string>& keys) {
  index = lua_absindex(L, index);
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, index)) {
    if (lua_type(L, -2) == LUA_TSTRING && keys.count(lua_tostring(L, -2))) {
      lua_pop(L, 1);
      continue;
    }
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_settable(L, -4);
  }
}

// `attributes = {{level = 0}, {level = 2, lesion_volume_ml = 3}}`: one row of numbers per sample.
std::vector<std::map<std::string, double>> read_attributes(lua_State* L, int table, const std::string& what) {
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

// The options of the table at `index` against `schema`; `attributes` (and the inversion's
// `source` tensor) are read apart.
Options generate_table(lua_State* L, int index, const Schema& schema, const std::string& what) {
  push_copy_without(L, index, {"attributes", "source"});
  Options o = options_of(L, -1, schema, what);
  lua_pop(L, 1);
  return o;
}

GenerateOptions generate_options(const Options& o) {
  GenerateOptions g;
  g.prompts = o.get_strings("prompts");
  g.count = o.get_int("count");
  g.seed = static_cast<std::uint64_t>(o.get_int("seed"));
  g.guidance = o.get_double("guidance");
  g.steps = o.get_int("steps");
  g.decode_tile = o.get_int("decode_tile");
  g.decode_overlap = o.get_int("decode_overlap");
  return g;
}

// whatif.diffusion{encoder=, denoiser=, schedule=, sampler=, conditioning=, text=, target=, ...}
int diffusion_new(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  DiffusionParts parts;
  parts.encoder = part<Encoder>(L, 1, "encoder", true);
  parts.denoiser = part<Denoiser>(L, 1, "denoiser", true);
  parts.schedule = part<Schedule>(L, 1, "schedule", true);
  parts.sampler = part<Sampler>(L, 1, "sampler", true);
  parts.conditioning = part<Conditioning>(L, 1, "conditioning", false);
  parts.text = part<TextEncoder>(L, 1, "text", false);
  // The remaining keys configure the process.
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    const std::string key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
    static const std::set<std::string> parts_keys{"encoder", "denoiser", "schedule", "sampler", "conditioning", "text"};
    if (!parts_keys.count(key)) {
      lua_pushvalue(L, -2);
      lua_pushvalue(L, -2);
      lua_settable(L, -5);
    }
    lua_pop(L, 1);
  }
  const Options o = options_of(L, -1, kProcessSchema, "whatif.diffusion");
  ProcessConfig config;
  config.target = parse_target(o.get_string("target"));
  config.weighting = parse_weighting(o.get_string("weighting"));
  config.min_snr_gamma = o.get_double("min_snr_gamma");
  config.sigmoid_bias = o.get_double("sigmoid_bias");
  config.multiscale = o.get_int("multiscale");
  void* memory = lua_newuserdatauv(L, sizeof(ModelBox), 0);
  new (memory) ModelBox(std::make_shared<DiffusionModel>(std::move(parts), config));
  luaL_setmetatable(L, kModelMeta);
  return 1;
}

// The training options both model:fit and encoder:fit take.
TrainConfig train_config(lua_State* L, const Options& o, const char* label) {
  TrainConfig train;
  train.steps = o.get_int("steps");
  train.accumulate = o.get_int("accumulate");
  train.lr = o.get_double("lr");
  train.warmup = o.get_int("warmup");
  train.min_lr_ratio = o.get_double("min_lr_ratio");
  train.weight_decay = o.get_double("weight_decay");
  train.grad_clip = o.get_double("grad_clip");
  train.ema_decay = o.get_double("ema_decay");
  train.bf16 = o.get_bool("bf16");
  train.seed = static_cast<std::uint64_t>(o.get_int("seed"));
  train.checkpoint_every = o.get_int("checkpoint_every");
  const std::string checkpoint = o.get_string("checkpoint");
  if (!checkpoint.empty()) train.checkpoint = run_path(L, checkpoint);
  train.label = label;
  return train;
}

std::shared_ptr<Dataset> check_dataset(lua_State* L, int index, const char* method) {
  auto dataset = std::dynamic_pointer_cast<Dataset>(check_component(L, index));
  if (!dataset) throw Error(std::string(method) + ": the first argument must be a dataset");
  return dataset;
}

// model:fit(dataset, {steps=, batch_size=, ...}) → {losses = {...}, steps = n, seconds = s}
int model_fit(lua_State* L) {
  auto& model = check_model(L, 1);
  const auto dataset = check_dataset(L, 2, "model:fit");
  Schema schema = kFitSchema;
  schema.push_back({"cache", OptionType::String, std::string(""),
                    "latent cache file (HDF5, relative to the run directory); \"\" = in memory"});
  schema.push_back({"attributes", OptionType::StringList, std::vector<std::string>{},
                    "dataset attributes the conditioning sees, in order (default: all)"});
  const Options o = options_of(L, 3, schema, "model:fit");
  FitOptions fit;
  if (!o.get_string("cache").empty()) fit.latent_cache = run_path(L, o.get_string("cache"));
  fit.batch_size = o.get_int("batch_size");
  fit.attributes = o.get_strings("attributes");
  fit.train = train_config(L, o, "diffusion");
  // Tokenizer files go beside the checkpoint (the arm's folder), else into the run directory.
  fit.tokenizer_dir = fit.train.checkpoint.empty()
                          ? run_path(L, "tokenizer")
                          : (std::filesystem::path(fit.train.checkpoint).parent_path() / "tokenizer").string();
  const TrainResult result = model->fit(*dataset, fit);
  lua_newtable(L);
  push_value(L, Value(result.losses));
  lua_setfield(L, -2, "losses");
  lua_pushinteger(L, result.steps_done);
  lua_setfield(L, -2, "steps");
  lua_pushnumber(L, result.seconds);
  lua_setfield(L, -2, "seconds");
  return 1;
}

// encoder:fit(dataset, {steps=, batch_size=, ...}) → {losses, steps, seconds, scale, <log> = {...}}
// trains a learnable encoder (kl-vae) with its own loss, then calibrates its latent scale.
int encoder_fit(lua_State* L) {
  auto encoder = std::dynamic_pointer_cast<Encoder>(check_component(L, 1));
  if (!encoder) throw Error("fit is a method of encoders, metrics and models");
  const auto dataset = check_dataset(L, 2, "encoder:fit");
  const Options o = options_of(L, 3, kFitSchema, "encoder:fit");
  const EncoderFit result =
      fit_encoder(*encoder, *dataset, train_config(L, o, "encoder"), o.get_int("batch_size"));
  lua_newtable(L);
  push_value(L, Value(result.train.losses));
  lua_setfield(L, -2, "losses");
  for (const auto& [name, values] : result.logs) {
    push_value(L, Value(values));
    lua_setfield(L, -2, name.c_str());
  }
  lua_pushinteger(L, result.train.steps_done);
  lua_setfield(L, -2, "steps");
  lua_pushnumber(L, result.train.seconds);
  lua_setfield(L, -2, "seconds");
  lua_pushnumber(L, result.scale);
  lua_setfield(L, -2, "scale");
  lua_pushnumber(L, result.recon_psnr);
  lua_setfield(L, -2, "recon_psnr");
  return 1;
}

// metric:fit(dataset, {seed = 0}) → what the metric measured on real data, e.g.
// {classifier_heldout_accuracy = 0.94}
int metric_fit(lua_State* L) {
  auto metric = std::dynamic_pointer_cast<Metric>(check_component(L, 1));
  const auto dataset = check_dataset(L, 2, "metric:fit");
  const Options o = options_of(L, 3, {{"seed", OptionType::Int, std::int64_t{0}, "training randomness"}},
                               "metric:fit");
  const auto values = metric->fit(*dataset, static_cast<std::uint64_t>(o.get_int("seed")));
  lua_newtable(L);
  for (const auto& [k, v] : values) {
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k.c_str());
  }
  return 1;
}

// dataset:images(first, count) → Tensor [count, C, (D,) H, W] of examples first … first+count−1
// (1-based).
int dataset_images(lua_State* L) {
  const auto dataset = check_dataset(L, 1, "images");
  const lua_Integer first = luaL_checkinteger(L, 2), count = luaL_optinteger(L, 3, 1);
  if (first < 1 || count < 1 || first - 1 + count > dataset->size())
    throw Error("dataset:images(" + std::to_string(first) + ", " + std::to_string(count) + "): the dataset has " +
                std::to_string(dataset->size()) + " examples (1-based)");
  std::vector<at::Tensor> images;
  for (lua_Integer i = first - 1; i < first - 1 + count; ++i) images.push_back(dataset->get(i).image);
  push_tensor(L, at::stack(images));
  return 1;
}

// dataset:size() → number of examples
int dataset_size(lua_State* L) {
  lua_pushinteger(L, check_dataset(L, 1, "size")->size());
  return 1;
}

std::shared_ptr<Encoder> check_encoder(lua_State* L, const char* method) {
  auto encoder = std::dynamic_pointer_cast<Encoder>(check_component(L, 1));
  if (!encoder) throw Error(std::string(method) + " is an encoder method");
  return encoder;
}

// encoder:encode(x) / encoder:decode(z): one pass in eval mode without gradients.
int encoder_encode(lua_State* L) {
  const auto encoder = check_encoder(L, "encode");
  at::NoGradGuard no_grad;
  encoder->train(false);
  push_tensor(L, encoder->encode(check_tensor(L, 2)));
  return 1;
}

int encoder_decode(lua_State* L) {
  const auto encoder = check_encoder(L, "decode");
  at::NoGradGuard no_grad;
  encoder->train(false);
  push_tensor(L, encoder->decode(check_tensor(L, 2)));
  return 1;
}

int component_fit(lua_State* L) {
  if (std::dynamic_pointer_cast<Metric>(check_component(L, 1))) return metric_fit(L);
  return encoder_fit(L);
}

// model:generate{prompts = {...} | count = n, seed =, guidance =, steps =} → Tensor
int model_generate(lua_State* L) {
  auto& model = check_model(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  GenerateOptions g = generate_options(generate_table(L, 2, kGenerateSchema, "model:generate"));
  g.attributes = read_attributes(L, 2, "model:generate");
  if (!g.attributes.empty() && !g.prompts.empty())
    throw Error("model:generate: give prompts or attributes, not both");
  push_tensor(L, model->generate(g));
  return 1;
}

// model:counterfactual{protocol = "fixed-noise", prompts = {a, b}, seed =, guidance =, steps =}
// model:counterfactual{protocol = "inversion", source = tensor, factual = "...",
//                      counterfactual = "...", strength =, guidance =, steps =}
int model_counterfactual(lua_State* L) {
  auto& model = check_model(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_getfield(L, 2, "protocol");
  const std::string protocol = luaL_optstring(L, -1, "fixed-noise");
  lua_pop(L, 1);
  Schema schema = kGenerateSchema;
  schema.push_back({"protocol", OptionType::String, std::string("fixed-noise"), "fixed-noise | inversion"});
  if (protocol == "fixed-noise") {
    const Options o = generate_table(L, 2, schema, "model:counterfactual");
    (void)o.get_string("protocol");
    GenerateOptions g = generate_options(o);
    const auto rows = read_attributes(L, 2, "model:counterfactual");
    const bool by_prompts = rows.empty() && g.prompts.size() == 2, by_attributes = rows.size() == 2 && g.prompts.empty();
    if (!by_prompts && !by_attributes)
      throw Error("fixed-noise counterfactual: give prompts = {factual, counterfactual} or attributes = "
                  "{{factual}, {counterfactual}}");
    GenerateOptions a = g, b = g;
    if (rows.empty()) {
      a.prompts = {g.prompts[0]};
      b.prompts = {g.prompts[1]};
    } else {
      a.attributes = {rows[0]};
      b.attributes = {rows[1]};
    }
    const auto [x, y] = model->counterfactual_fixed_noise(a, b);
    push_tensor(L, x);
    push_tensor(L, y);
    return 2;
  }
  if (protocol == "inversion") {
    lua_getfield(L, 2, "source");
    const at::Tensor source = check_tensor(L, -1);
    lua_pop(L, 1);
    schema.push_back({"factual", OptionType::String, std::string(), "prompt of the source"});
    schema.push_back({"counterfactual", OptionType::String, std::string(), "prompt to edit towards"});
    schema.push_back({"strength", OptionType::Double, 1.0, "invert up to t = strength"});
    const Options o = generate_table(L, 2, schema, "model:counterfactual");
    (void)o.get_string("protocol");
    GenerateOptions factual = generate_options(o), counterfactual = factual;
    const std::int64_t n = source.size(0);
    const auto rows = read_attributes(L, 2, "model:counterfactual");
    if (!rows.empty()) {
      if (rows.size() != 2 || !o.get_string("factual").empty() || !o.get_string("counterfactual").empty())
        throw Error("inversion counterfactual: give factual = and counterfactual = prompts, or attributes = "
                    "{{factual}, {counterfactual}}");
      factual.attributes.assign(n, rows[0]);
      counterfactual.attributes.assign(n, rows[1]);
    } else {
      factual.prompts.assign(n, o.get_string("factual"));
      counterfactual.prompts.assign(n, o.get_string("counterfactual"));
    }
    push_tensor(L, model->counterfactual_inversion(source, factual, counterfactual, o.get_double("strength")));
    return 1;
  }
  throw Error("model:counterfactual: protocol '" + protocol + "' is not fixed-noise or inversion");
}

int model_save(lua_State* L) {
  check_model(L, 1)->save(run_path(L, luaL_checkstring(L, 2)));
  return 0;
}

int model_load(lua_State* L) {
  check_model(L, 1)->load(run_path(L, luaL_checkstring(L, 2)));
  return 0;
}

int model_config(lua_State* L) {
  lua_pushstring(L, check_model(L, 1)->config_json().c_str());
  return 1;
}

int model_gc(lua_State* L) {
  static_cast<ModelBox*>(luaL_checkudata(L, 1, kModelMeta))->~ModelBox();
  return 0;
}

// Tensor handle ------------------------------------------------------------------------------

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

void open_diffusion(lua_State* L) {
  static const luaL_Reg model_methods[] = {{"fit", guarded<model_fit>},
                                           {"generate", guarded<model_generate>},
                                           {"counterfactual", guarded<model_counterfactual>},
                                           {"save", guarded<model_save>},
                                           {"load", guarded<model_load>},
                                           {"config", guarded<model_config>},
                                           {nullptr, nullptr}};
  luaL_newmetatable(L, kModelMeta);
  lua_pushcfunction(L, model_gc);
  lua_setfield(L, -2, "__gc");
  lua_newtable(L);
  luaL_setfuncs(L, model_methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);

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

  lua_pushcfunction(L, guarded<diffusion_new>);
  lua_setfield(L, -2, "diffusion");

  luaL_getmetatable(L, "whatif.Component");
  lua_getfield(L, -1, "__index");
  for (const auto& [name, fn] : {std::pair<const char*, lua_CFunction>{"fit", guarded<component_fit>},
                                 {"images", guarded<dataset_images>},
                                 {"size", guarded<dataset_size>},
                                 {"encode", guarded<encoder_encode>},
                                 {"decode", guarded<encoder_decode>}}) {
    lua_pushcfunction(L, fn);
    lua_setfield(L, -2, name);
  }
  lua_pop(L, 2);
}

}  // namespace whatif::lua

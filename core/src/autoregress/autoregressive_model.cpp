#include "autoregress/autoregressive_model.hpp"

#include <algorithm>
#include <set>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "diffusion/latent_cache.hpp"
#include "train/autocast.hpp"
#include "train/checkpoint.hpp"
#include "model/component_json.hpp"
#include "train/data_description.hpp"
#include "whatif/batch_sampler.hpp"
#include "whatif/registry/error.hpp"
#include "whatif/trainer.hpp"

namespace whatif {
namespace {

constexpr const char* kAutoregressiveFormat = "whatif-autoregressive-1";
constexpr std::int64_t kTokenizeBatch = 32;

}  // namespace

const Fields<AutoregressiveConfig>& AutoregressiveConfig::fields() {
  using C = AutoregressiveConfig;
  static const Fields<C> fields = Fields<C>()
      .add("prompt_length", &C::prompt_length, "prompt tokens (longer prompts are cut, shorter padded)")
      .add("text_length", &C::text_length, "interpretation tokens kept in training")
      .add("image_weight", &C::image_weight, "loss weight of the follow-up image tokens")
      .add("text_weight", &C::text_weight, "loss weight of the interpretation tokens")
      .add("prompt_dropout", &C::prompt_dropout, "probability a training prompt is dropped (for guidance)")
      .add("bf16", &C::bf16, "decode under bf16 autocast");
  return fields;
}

void AutoregressiveConfig::check() const {
  if (prompt_length < 1) throw Error("option 'prompt_length' must be at least 1");
  if (text_length < 0) throw Error("option 'text_length' must be ≥ 0");
  if (image_weight < 0 || text_weight < 0 || image_weight + text_weight <= 0)
    throw Error("options 'image_weight' and 'text_weight' must be ≥ 0 and not both 0");
  if (!(prompt_dropout >= 0 && prompt_dropout < 1)) throw Error("option 'prompt_dropout' must be in [0, 1)");
}

at::Tensor training_sequence(const TokenLayout& layout, const ProgressionExample& e) {
  const std::int64_t g = layout.grid_count(), p0 = layout.prefix_length();
  at::Tensor out = at::full({layout.sequence_length(layout.text_length)}, TokenLayout::kPad, at::kLong);
  out.narrow(0, 0, p0).copy_(layout.prefix(e.prior.view({1, -1}), {e.prompt})[0]);
  out.narrow(0, p0, g).copy_(e.target.view({-1}).to(at::kLong) + layout.image_offset());
  auto text = layout.text_tokens(e.interpretation);
  text.resize(std::min<std::size_t>(text.size(), static_cast<std::size_t>(layout.text_length)));
  text.push_back(TokenLayout::kEnd);
  out.narrow(0, p0 + g, static_cast<std::int64_t>(text.size())).copy_(at::tensor(text, at::kLong));
  return out;
}

at::Tensor sequence_loss(const TokenLayout& layout, const at::Tensor& logits, const at::Tensor& sequences,
                         double image_weight, double text_weight, std::map<std::string, double>* logs) {
  const std::int64_t s = sequences.size(1), p0 = layout.prefix_length(), g = layout.grid_count();
  // Logits at position q predict the token at q + 1.
  const at::Tensor targets = sequences.narrow(1, 1, s - 1);
  const at::Tensor nll = -at::log_softmax(logits.narrow(1, 0, s - 1).to(at::kFloat), -1)
                              .gather(-1, targets.unsqueeze(-1))
                              .squeeze(-1);
  const at::Tensor position = at::arange(1, s, at::kLong).unsqueeze(0);
  const at::Tensor image = ((position >= p0) & (position < p0 + g)).expand_as(targets);
  const at::Tensor text = (position >= p0 + g) & (targets != TokenLayout::kPad);
  const auto mean = [&](const at::Tensor& mask) {
    return (nll * mask).sum() / mask.sum().clamp_min(1);
  };
  const at::Tensor image_ce = mean(image), text_ce = mean(text);
  if (logs) {
    (*logs)["image_ce"] = image_ce.item<double>();
    (*logs)["text_ce"] = text_ce.item<double>();
  }
  return image_weight * image_ce + text_weight * text_ce;
}

std::pair<std::string, std::string> split_prompt(const std::string& text) {
  const auto newline = text.find('\n');
  if (newline == std::string::npos) return {text, ""};
  return {text.substr(0, newline), text.substr(newline + 1)};
}

AutoregressiveModel::AutoregressiveModel(AutoregressiveParts parts, AutoregressiveConfig config)
    : parts_(std::move(parts)), config_(config) {
  if (!parts_.tokenizer || !parts_.text || !parts_.generator)
    throw Error("autoregressive: tokenizer, text and generator are required");
  if (!parts_.tokenizer->discrete())
    throw Error("autoregressive: 'tokenizer' must be a discrete encoder (vq-vae), got " + parts_.tokenizer->identity().label());
  if (parts_.generator->segment_count() < TokenLayout::kSegments)
    throw Error("autoregressive: the generator embeds " + std::to_string(parts_.generator->segment_count()) +
                " segments, the layout needs " + std::to_string(TokenLayout::kSegments) + ": set its 'segments' to 4");
  config_.check();
}

const TokenLayout& AutoregressiveModel::layout() const {
  if (!has_layout_) throw Error("autoregressive: the model has no vocabulary yet (fit or load it first)");
  return layout_;
}

std::string AutoregressiveModel::config_json() const {
  Options options;
  for (const auto& e : AutoregressiveConfig::fields().entries()) options.set(e.spec.name, e.get(config_));
  return nlohmann::json{{"tokenizer", component_json(parts_.tokenizer.get())},
                        {"text", component_json(parts_.text.get())},
                        {"generator", component_json(parts_.generator.get())},
                        {"autoregressive", nlohmann::json::parse(options.to_json())}}
      .dump();
}

void AutoregressiveModel::eval_mode() {
  parts_.tokenizer->train(false);
  parts_.text->train(false);
  parts_.generator->train(false);
}

void AutoregressiveModel::check_generator(std::int64_t length) const {
  const Generator& g = *parts_.generator;
  if (g.vocab_size() < layout_.vocab_size())
    throw Error("autoregressive: the vocabulary needs " + std::to_string(layout_.vocab_size()) + " tokens (" +
                std::to_string(TokenLayout::kSpecials) + " special, " + std::to_string(layout_.text_ids.size()) +
                " text, " + std::to_string(layout_.codebook) + " image codes): set the generator's 'vocab_size' ≥ " +
                std::to_string(layout_.vocab_size()));
  if (g.max_length() < length)
    throw Error("autoregressive: sequences of " + std::to_string(length) + " tokens need the generator's " +
                "'max_length' ≥ " + std::to_string(length) + " (or lower 'prompt_length'/'text_length')");
}

std::vector<ProgressionExample> AutoregressiveModel::examples(const Dataset& data, const std::string& tokenizer_dir,
                                                              const std::string& token_cache) {
  const auto pairs = data.pairs();
  if (pairs.empty())
    throw Error("autoregressive fit: the dataset has no pairs (prior, follow-up); use one whose pairs() are filled");
  // Codes of every image, once (the tokenizer is fixed while the generator trains); with a cache
  // path they are read back while the tokenizer and the dataset are unchanged.
  const EncodedData coded = encode_dataset(*parts_.tokenizer, data, token_cache, kTokenizeBatch, Representation::Tokens);
  std::vector<std::string> prompts, interpretations, corpus;
  std::vector<at::Tensor> prior_codes, target_codes;
  for (const auto& [a, b] : pairs) {
    auto [prompt, interpretation] = split_prompt(coded.texts[static_cast<std::size_t>(b)]);
    prior_codes.push_back(coded.latents[static_cast<std::size_t>(a)]);
    target_codes.push_back(coded.latents[static_cast<std::size_t>(b)]);
    prompts.push_back(prompt);
    interpretations.push_back(interpretation);
    corpus.push_back(prompt);
    if (!interpretation.empty()) corpus.push_back(interpretation);
  }
  parts_.text->fit_tokenizer(corpus, tokenizer_dir);

  TokenLayout layout;
  layout.prompt_length = config_.prompt_length;
  layout.text_length = config_.text_length;
  layout.codebook = parts_.tokenizer->codebook_size();
  layout.grid = prior_codes.front().sizes().vec();
  std::vector<ProgressionExample> out;
  std::set<std::int64_t> ids;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    ProgressionExample e;
    e.prior = prior_codes[i];
    e.target = target_codes[i];
    e.prompt = parts_.text->tokenize(prompts[i]);
    if (!interpretations[i].empty()) e.interpretation = parts_.text->tokenize(interpretations[i]);
    ids.insert(e.prompt.begin(), e.prompt.end());
    ids.insert(e.interpretation.begin(), e.interpretation.end());
    if (e.prior.sizes() != e.target.sizes() || e.prior.sizes().vec() != layout.grid)
      throw Error("autoregressive fit: pair " + std::to_string(i) + " has images of another size; give same-sized images");
    out.push_back(std::move(e));
  }
  layout.text_ids.assign(ids.begin(), ids.end());
  layout_ = layout;
  has_layout_ = true;
  return out;
}

FitResult AutoregressiveModel::fit(const Dataset& data, const FitRequest& request) {
  if (!request.attributes.empty())
    throw Error("autoregressive fit: option 'attributes' is not supported (the prompt is text); leave it out");
  const auto train_examples = examples(data, request.tokenizer_dir, request.latent_cache);
  check_generator(layout_.sequence_length(layout_.text_length));
  std::vector<at::Tensor> rows;
  for (const auto& e : train_examples) rows.push_back(training_sequence(layout_, e));
  const at::Tensor sequences = at::stack(rows);
  const std::int64_t n = sequences.size(0), s = sequences.size(1);
  const at::Tensor segments = layout_.segments(1, 0, s);
  TrainConfig train = request.train;
  train.config_json = config_json();
  train.data_json = data_json_ = describe_data(data);
  Trainer trainer(train, {{"generator", parts_.generator.get()}});
  const BatchSampler sampler(n, request.batch_size, train.accumulate, train.seed);
  auto loss = [&](std::int64_t step, std::int64_t micro, at::Generator& generator,
                  std::map<std::string, double>& logs) {
    const auto indices = sampler.indices(step, micro);
    at::Tensor batch = sequences.index_select(0, at::tensor(indices, at::kLong));
    if (config_.prompt_dropout > 0) {
      const at::Tensor drop = at::rand({batch.size(0)}, generator) < config_.prompt_dropout;
      batch = at::where(drop.unsqueeze(1), layout_.unconditional(batch), batch);
    }
    const at::Tensor logits = parts_.generator->logits(batch, segments.expand({batch.size(0), s}));
    return sequence_loss(layout_, logits, batch, config_.image_weight, config_.text_weight, &logs);
  };
  FitResult result;
  result.train = trainer.fit(loss);
  trainer.use_ema(true);  // decode with the averaged weights
  return result;
}

DecodeOptions AutoregressiveModel::decode_options(const Sampling& s) {
  DecodeOptions o;
  o.temperature = s.temperature;
  o.top_k = s.top_k;
  o.top_p = s.top_p;
  o.guidance = s.guidance;
  o.max_text_length = s.max_text_length;
  o.seed = s.seed;
  return o;
}

at::Tensor AutoregressiveModel::prefix(const Condition& c) {
  if (!c.attributes.empty())
    throw Error("autoregressive generate: attributes are not supported; give prompts");
  if (!c.prior.defined())
    throw Error("autoregressive generate: give 'prior', the volumes [N, C, (D,) H, W] to write the follow-up of");
  const std::int64_t priors = c.prior.size(0), prompts = static_cast<std::int64_t>(c.prompts.size());
  const std::int64_t n = std::max(priors, prompts);
  if ((priors != 1 && priors != n) || (prompts > 1 && prompts != n))
    throw Error("autoregressive generate: " + std::to_string(priors) + " priors and " + std::to_string(prompts) +
                " prompts: give one prompt per prior, or one of either");
  at::Tensor codes;
  {
    at::NoGradGuard no_grad;
    eval_mode();
    codes = parts_.tokenizer->tokenize(c.prior).reshape({priors, -1});
  }
  if (priors != n) codes = codes.expand({n, codes.size(1)});
  std::vector<std::vector<std::int64_t>> ids(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n && prompts > 0; ++i)
    ids[static_cast<std::size_t>(i)] = parts_.text->tokenize(c.prompts[static_cast<std::size_t>(prompts == 1 ? 0 : i)]);
  return layout().prefix(codes, ids);
}

Generation AutoregressiveModel::generate_from(const at::Tensor& prefix, const DecodeOptions& options) {
  options.check();
  at::NoGradGuard no_grad;
  eval_mode();
  check_generator(layout().prefix_length() + layout_.grid_count() + options.max_text_length);
  Generation out;
  {
    AutocastGuard autocast(config_.bf16);
    out.tokens = decode(*parts_.generator, layout_, prefix, options);
  }
  const std::int64_t n = out.tokens.size(0), g = layout_.grid_count();
  std::vector<std::int64_t> shape{n};
  shape.insert(shape.end(), layout_.grid.begin(), layout_.grid.end());
  out.volumes = parts_.tokenizer->detokenize((out.tokens.narrow(1, 0, g) - layout_.image_offset()).reshape(shape));
  for (std::int64_t i = 0; i < n; ++i) {
    const at::Tensor row = out.tokens[i].narrow(0, g, out.tokens.size(1) - g).contiguous();
    const std::vector<std::int64_t> tokens(row.data_ptr<std::int64_t>(), row.data_ptr<std::int64_t>() + row.numel());
    out.texts.push_back(parts_.text->detokenize(layout_.text_ids_of(tokens)));
  }
  return out;
}

Generation AutoregressiveModel::generate(const GenerateRequest& request) {
  return generate_from(prefix(request.condition), decode_options(request.sampling));
}

Pair AutoregressiveModel::counterfactual(const CounterfactualRequest& r) {
  if (r.protocol != "prior-conditioned" && r.protocol != "fixed-noise")
    throw Error("autoregressive counterfactual: protocol '" + r.protocol +
                "' is not one of this family's; use \"prior-conditioned\" (the same prior and seed, two prompts)");
  const at::Tensor prior = r.counterfactual.prior.defined() ? r.counterfactual.prior
                           : r.factual.prior.defined()      ? r.factual.prior
                                                            : r.source;
  Condition factual = r.factual, counterfactual = r.counterfactual;
  factual.prior = counterfactual.prior = prior;
  Pair pair;
  pair.protocol = "prior-conditioned";
  const DecodeOptions options = decode_options(r.sampling);
  pair.factual = generate_from(prefix(factual), options);
  pair.counterfactual = generate_from(prefix(counterfactual), options);
  return pair;
}

void AutoregressiveModel::save(const std::string& path) const {
  Checkpoint c;
  for (auto& [name, p] : parts_.generator->named_parameters()) c.groups["params"].emplace_back("generator." + name, p);
  for (auto& [name, b] : parts_.generator->named_buffers()) c.groups["buffers"].emplace_back("generator." + name, b);
  // The text encoder's weights are not used here; its tokenizer is.
  for (auto& [name, b] : parts_.text->named_buffers()) c.groups["buffers"].emplace_back("text." + name, b);
  c.strings["config"] = config_json();
  c.strings["format"] = kAutoregressiveFormat;
  c.strings["layout"] = layout().to_json();
  c.strings["data"] = data_json_;
  write_checkpoint(path, c);
}

void AutoregressiveModel::load(const std::string& path) {
  const Checkpoint c = read_checkpoint(path);
  if (!c.strings.count("format") || c.strings.at("format") != kAutoregressiveFormat)
    throw Error(path + ": not a whatif autoregressive model (save one with model:save)");
  NamedTensors params, buffers;
  for (auto& [name, p] : parts_.generator->named_parameters()) params.emplace_back("generator." + name, p);
  for (auto& [name, b] : parts_.generator->named_buffers()) buffers.emplace_back("generator." + name, b);
  for (auto& [name, b] : parts_.text->named_buffers()) buffers.emplace_back("text." + name, b);
  const auto group = [&](const std::string& g) {
    const auto it = c.groups.find(g);
    return it == c.groups.end() ? NamedTensors{} : it->second;
  };
  restore_tensors(group("params"), params, false, path);
  restore_tensors(group("buffers"), buffers, true, path);
  layout_ = TokenLayout::from_json(c.strings.at("layout"));
  has_layout_ = true;
}

}  // namespace whatif

// Multimodal autoregression: the generator's KV cache against full-sequence logits, decoding with
// and without the cache, guidance against a reference decoder written here, the grid constraint,
// the loss mask, gradient checkpointing, the token cache, and a toy progression task with a known
// answer.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "autoregress/autoregressive_model.hpp"
#include "diffusion/latent_cache.hpp"
#include "host/host.hpp"
#include "lua/script.hpp"
#include "support/plugins.hpp"
#include "train/fit_encoder.hpp"
#include "whatif/model_family.hpp"
#include "whatif/registry/error.hpp"

using whatif::TokenLayout;
using whatif::test::make;

namespace {

WHATIF_TEST_PLUGINS("generators", "text", "encoders");

// A fixed discrete tokenizer: the mean of each 2×2 patch quantised to `levels` levels of [0, 1].
class PatchQuantizer : public whatif::Encoder {
 public:
  explicit PatchQuantizer(std::int64_t levels) : levels_(levels) {
    stamp({"encoder", "patch-quantizer", "test", "0", ""}, whatif::Options());
  }
  at::Tensor encode(const at::Tensor& x) override { return at::avg_pool2d(x, 2); }
  at::Tensor decode(const at::Tensor& z) override { return at::upsample_nearest2d(z, {z.size(2) * 2, z.size(3) * 2}); }
  std::vector<std::int64_t> latent_shape(const std::vector<std::int64_t>& in) const override {
    return {in[0], in[1] / 2, in[2] / 2};
  }
  bool discrete() const override { return true; }
  std::int64_t codebook_size() const override { return levels_; }
  at::Tensor tokenize(const at::Tensor& x) override {
    return (encode(x) * static_cast<double>(levels_ - 1)).round().clamp(0, levels_ - 1).to(at::kLong).squeeze(1);
  }
  at::Tensor detokenize(const at::Tensor& ids) override {
    return decode(ids.unsqueeze(1).to(at::kFloat) / static_cast<double>(levels_ - 1));
  }
  whatif::NamedTensors named_parameters() override { return {}; }
  void train(bool) override {}
  void to(const c10::Device&) override {}

 private:
  std::int64_t levels_;
};

constexpr std::int64_t kLevels = 8, kSize = 8;  // 8×8 images → a 4×4 grid of codes in 0..7

// A `size`² image whose 4×4 blocks have the levels `codes` [4, 4].
at::Tensor image_of(const at::Tensor& codes, std::int64_t size = kSize) {
  return at::upsample_nearest2d(codes.to(at::kFloat).view({1, 1, 4, 4}) / static_cast<double>(kLevels - 1), {size, size})[0];
}

const char* kBrighter = "the image is brighter.";
const char* kDarker = "the image is darker.";

// Subjects with random codes in 1..6; each has a brighter (+1) and a darker (−1) follow-up, whose
// text is "prompt\ninterpretation".
class Progressions : public whatif::Dataset {
 public:
  Progressions(std::int64_t subjects, std::uint64_t seed, std::int64_t size = kSize)
      : subjects_(subjects), seed_(seed), size_(size) {}
  std::int64_t size() const override { return 3 * subjects_; }
  whatif::Example get(std::int64_t i) const override {
    whatif::Example e;
    const at::Tensor codes = prior_codes(i / 3);
    const std::int64_t kind = i % 3;
    e.image = image_of(kind == 0 ? codes : kind == 1 ? codes + 1 : codes - 1, size_);
    if (kind == 1) e.text = std::string("brighter\n") + kBrighter;
    if (kind == 2) e.text = std::string("darker\n") + kDarker;
    return e;
  }
  std::vector<std::string> attribute_names() const override { return {}; }
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs() const override {
    std::vector<std::pair<std::int64_t, std::int64_t>> out;
    for (std::int64_t s = 0; s < subjects_; ++s) {
      out.emplace_back(3 * s, 3 * s + 1);
      out.emplace_back(3 * s, 3 * s + 2);
    }
    return out;
  }
  at::Tensor prior_codes(std::int64_t subject) const {
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed_ * 1000 + static_cast<std::uint64_t>(subject));
    return at::randint(1, kLevels - 1, {4, 4}, g, at::kLong);
  }

 private:
  std::int64_t subjects_;
  std::uint64_t seed_;
  std::int64_t size_;
};

std::shared_ptr<whatif::Generator> transformer(std::vector<std::string> extra = {}) {
  std::vector<std::string> o{"vocab_size=64", "segments=4", "max_length=96", "width=64", "layers=2", "heads=4"};
  o.insert(o.end(), extra.begin(), extra.end());
  return make<whatif::Generator>("generator", "transformer", o);
}

whatif::AutoregressiveParts parts(std::shared_ptr<whatif::Generator> generator = transformer()) {
  whatif::AutoregressiveParts p;
  p.tokenizer = std::make_shared<PatchQuantizer>(kLevels);
  p.text = make<whatif::TextEncoder>("text", "transformer",
                                     {"vocab_size=40", "max_length=16", "width=8", "layers=1", "heads=2"});
  p.generator = std::move(generator);
  return p;
}

whatif::AutoregressiveConfig config() {
  whatif::AutoregressiveConfig c;
  c.prompt_length = 4;
  c.text_length = 8;
  c.prompt_dropout = 0.2;
  return c;
}

whatif::FitRequest fit_request(std::int64_t steps) {
  whatif::FitRequest r;
  r.batch_size = 32;
  r.train.steps = steps;
  r.train.lr = 3e-3;
  r.train.warmup = 20;
  r.train.ema_decay = 0;
  r.train.seed = 7;
  r.train.weight_decay = 0.0;
  return r;
}

std::vector<std::int64_t> row(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  return {c.data_ptr<std::int64_t>(), c.data_ptr<std::int64_t>() + c.numel()};
}

// A model whose vocabulary exists (fitted for zero steps: the tokenizers run, the weights stay
// random) and prefixes for `n` priors.
struct Untrained {
  whatif::AutoregressiveParts p = parts();
  whatif::AutoregressiveModel model{p, config()};
  Progressions data{8, 3};
  Untrained() { model.fit(data, fit_request(0)); }
  at::Tensor prefix(std::int64_t n) {
    whatif::Condition c;
    std::vector<at::Tensor> priors;
    for (std::int64_t i = 0; i < n; ++i) {
      priors.push_back(image_of(data.prior_codes(100 + i)));
      c.prompts.push_back(i % 2 ? "darker" : "brighter");
    }
    c.prior = at::stack(priors);
    return model.prefix(c);
  }
};

}  // namespace

CATCH_TEST_CASE("transformer: KV-cached steps give the logits of the whole sequence") {
  auto g = transformer();
  g->train(false);
  at::NoGradGuard no_grad;
  at::Generator rng = at::make_generator<at::CPUGeneratorImpl>(1);
  const at::Tensor tokens = at::randint(0, 64, {3, 40}, rng, at::kLong);
  const at::Tensor segments = at::randint(0, 4, {3, 40}, rng, at::kLong);
  const at::Tensor full = g->logits(tokens, segments);
  auto state = g->start(3);
  // A 17-token chunk, then single tokens, then a 5-token chunk: any split gives the same logits.
  std::vector<at::Tensor> parts;
  std::int64_t at = 0;
  for (const std::int64_t n : {17, 1, 1, 1, 15, 5}) {
    parts.push_back(g->step(*state, tokens.narrow(1, at, n), segments.narrow(1, at, n)));
    at += n;
  }
  CATCH_REQUIRE(state->length() == 40);
  const double error = (at::cat(parts, 1) - full).abs().max().item<double>();
  CATCH_REQUIRE(error < 1e-4);
  CATCH_REQUIRE(full.abs().max().item<double>() > 0.1);
  // Segments matter: the same tokens in other segments give other logits.
  CATCH_REQUIRE((g->logits(tokens, (segments + 1) % 4) - full).abs().max().item<double>() > 1e-3);
  CATCH_REQUIRE_THROWS_WITH(g->logits(tokens, segments.narrow(1, 0, 10)), Catch::Contains("one segment id per token"));
  CATCH_REQUIRE_THROWS_WITH(g->logits(tokens + 64, segments), Catch::Contains("'vocab_size'"));
  CATCH_REQUIRE_THROWS_WITH(make<whatif::Generator>("generator", "transformer", {"width=64", "heads=3"}),
                            Catch::Contains("'heads'"));
}

CATCH_TEST_CASE("transformer: gradient checkpointing gives the gradients of the plain backward pass") {
  auto plain = transformer(), checkpointed = transformer({"checkpointing=true"});
  {
    at::NoGradGuard no_grad;
    auto from = plain->named_parameters();
    auto to = checkpointed->named_parameters();
    for (std::size_t i = 0; i < from.size(); ++i) to[i].second.copy_(from[i].second);
  }
  at::Generator rng = at::make_generator<at::CPUGeneratorImpl>(2);
  const at::Tensor tokens = at::randint(0, 64, {2, 24}, rng, at::kLong);
  const at::Tensor segments = at::randint(0, 4, {2, 24}, rng, at::kLong);
  const at::Tensor weights = at::randn({2, 24, 64}, rng);
  for (auto* g : {plain.get(), checkpointed.get()}) {
    g->train(true);
    (g->logits(tokens, segments) * weights).sum().backward();
  }
  const auto a = plain->named_parameters(), b = checkpointed->named_parameters();
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    CATCH_REQUIRE(b[i].second.grad().defined());
    worst = std::max(worst, (a[i].second.grad() - b[i].second.grad()).abs().max().item<double>() /
                                (a[i].second.grad().abs().max().item<double>() + 1e-12));
  }
  CATCH_REQUIRE(worst < 1e-5);
}

CATCH_TEST_CASE("decoding: the KV cache writes exactly the tokens of full-sequence decoding") {
  Untrained u;
  const at::Tensor prefix = u.prefix(3);
  for (const double guidance : {1.0, 0.0, 3.0})
    for (const std::uint64_t seed : {1, 2}) {
      whatif::DecodeOptions o;
      o.seed = seed;
      o.guidance = guidance;
      o.max_text_length = 6;
      o.top_k = 20;
      o.top_p = 0.95;
      const auto cached = u.model.generate_from(prefix, o);
      o.cache = false;
      const auto uncached = u.model.generate_from(prefix, o);
      CATCH_INFO("guidance " << guidance << ", seed " << seed);
      CATCH_REQUIRE(at::equal(cached.tokens, uncached.tokens));
      CATCH_REQUIRE(cached.texts == uncached.texts);
    }
}

CATCH_TEST_CASE("decoding: guidance w = 0 is unconditional decoding, w = 1 conditional, any w the CFG formula") {
  Untrained u;
  const at::Tensor prefix = u.prefix(3);
  const TokenLayout& layout = u.model.layout();
  whatif::DecodeOptions o;
  o.seed = 5;
  o.max_text_length = 5;
  // Sampled: w = 0 draws the tokens of the prompt-less prefix decoded without guidance.
  o.guidance = 0.0;
  const auto w0 = u.model.generate_from(prefix, o);
  o.guidance = 1.0;
  const auto unconditional = u.model.generate_from(layout.unconditional(prefix), o);
  CATCH_REQUIRE(at::equal(w0.tokens, unconditional.tokens));
  // Greedy, against a reference written here: two separate full-sequence passes combined as
  // u + w (c − u), restricted by the grid constraint.
  whatif::Generator& g = *u.p.generator;
  at::NoGradGuard no_grad;
  {  // the prompt reaches the logits, so the two streams differ
    const auto last = [&](const at::Tensor& seq) {
      return g.logits(seq, layout.segments(seq.size(0), 0, seq.size(1))).select(1, seq.size(1) - 1);
    };
    CATCH_REQUIRE((last(prefix) - last(layout.unconditional(prefix))).abs().max().item<double>() > 1e-3);
  }
  for (const double w : {0.0, 1.0, 2.5}) {
    o.guidance = w;
    o.temperature = 0;
    const at::Tensor tokens = u.model.generate_from(prefix, o).tokens;
    at::Tensor c = prefix, uc = layout.unconditional(prefix);
    bool all_ended = false;
    for (std::int64_t i = 0; i < tokens.size(1) && !all_ended; ++i) {
      const auto last = [&](const at::Tensor& seq) {
        return g.logits(seq, layout.segments(seq.size(0), 0, seq.size(1))).select(1, seq.size(1) - 1);
      };
      const at::Tensor lc = last(c), lu = last(uc);
      const at::Tensor combined = lu + w * (lc - lu);
      const at::Tensor allowed = whatif::allowed_tokens(layout, g.vocab_size(), i, o.max_text_length);
      at::Tensor next = combined.masked_fill(~allowed, -1e30).argmax(-1);
      // Rows that ended write pad.
      const at::Tensor ended = (tokens.narrow(1, 0, i) == TokenLayout::kEnd).any(1);
      next = at::where(ended, at::full_like(next, TokenLayout::kPad), next);
      CATCH_INFO("w = " << w << ", token " << i);
      CATCH_REQUIRE(at::equal(next, tokens.select(1, i)));
      c = at::cat({c, next.unsqueeze(1)}, 1);
      uc = at::cat({uc, next.unsqueeze(1)}, 1);
      all_ended = ((next == TokenLayout::kEnd) | ended).all().item<bool>();
    }
  }
}

CATCH_TEST_CASE("decoding: the image segment is always the tokenizer's grid, then text up to end or the limit") {
  Untrained u;
  const TokenLayout& layout = u.model.layout();
  const std::int64_t g = layout.grid_count();
  const at::Tensor prefix = u.prefix(8);
  std::int64_t hit_limit = 0, ended_early = 0;
  for (const std::uint64_t seed : {11, 12, 13, 14}) {
    whatif::DecodeOptions o;
    o.seed = seed;
    o.temperature = 2.0;  // a random model, sampled hot: the constraint alone keeps it in shape
    o.max_text_length = 4;
    const auto out = u.model.generate_from(prefix, o);
    CATCH_REQUIRE(out.volumes.sizes() == at::IntArrayRef({8, 1, kSize, kSize}));
    for (std::int64_t b = 0; b < 8; ++b) {
      const auto tokens = row(out.tokens[b]);
      for (std::int64_t i = 0; i < g; ++i) CATCH_REQUIRE(layout.is_image(tokens[static_cast<std::size_t>(i)]));
      std::int64_t i = g;
      while (layout.is_text(tokens[static_cast<std::size_t>(i)])) ++i;
      CATCH_REQUIRE(tokens[static_cast<std::size_t>(i)] == TokenLayout::kEnd);
      CATCH_REQUIRE(i - g <= o.max_text_length);
      (i - g == o.max_text_length ? hit_limit : ended_early) += 1;
      for (++i; i < static_cast<std::int64_t>(tokens.size()); ++i)
        CATCH_REQUIRE(tokens[static_cast<std::size_t>(i)] == TokenLayout::kPad);
    }
  }
  // Both ways of ending happened.
  CATCH_REQUIRE(hit_limit > 0);
  CATCH_REQUIRE(ended_early > 0);
}

CATCH_TEST_CASE("loss: only the follow-up image and the interpretation carry gradient") {
  Untrained u;
  const TokenLayout& layout = u.model.layout();
  whatif::ProgressionExample e;
  e.prior = u.data.prior_codes(0).view({-1});
  e.target = e.prior + 1;
  e.prompt = u.p.text->tokenize("brighter");
  e.interpretation = u.p.text->tokenize(kBrighter);
  const at::Tensor sequence = whatif::training_sequence(layout, e).unsqueeze(0);
  const std::int64_t s = sequence.size(1), p0 = layout.prefix_length(), g = layout.grid_count();
  const std::int64_t text = static_cast<std::int64_t>(layout.text_tokens(e.interpretation).size());
  CATCH_REQUIRE(sequence[0][p0 + g + text].item<std::int64_t>() == TokenLayout::kEnd);
  at::Generator rng = at::make_generator<at::CPUGeneratorImpl>(4);
  const at::Tensor logits = at::randn({1, s, 64}, rng).requires_grad_(true);
  const double wi = 0.7, wt = 2.0;
  const at::Tensor loss = whatif::sequence_loss(layout, logits, sequence, wi, wt);
  loss.backward();
  const at::Tensor grad = logits.grad()[0].abs().sum(1);
  // Logits at q predict token q + 1: the prefix's predictions (q < p0 − 1) and those after end get none.
  for (std::int64_t q = 0; q < s; ++q) {
    const bool carries = q >= p0 - 1 && q < p0 + g + text;
    CATCH_INFO("position " << q);
    CATCH_REQUIRE((grad[q].item<double>() > 0) == carries);
  }
  // The value: the two weighted means of −log p(target), computed here position by position.
  const at::Tensor logp = at::log_softmax(logits.detach()[0], -1);
  double image = 0, interpretation = 0;
  for (std::int64_t q = p0 - 1; q < p0 + g + text; ++q) {
    const double nll = -logp[q][sequence[0][q + 1].item<std::int64_t>()].item<double>();
    (q < p0 + g - 1 ? image : interpretation) += nll;
  }
  const double expected = wi * image / static_cast<double>(g) + wt * interpretation / static_cast<double>(text + 1);
  CATCH_REQUIRE(loss.item<double>() == Approx(expected).epsilon(1e-5));
}

CATCH_TEST_CASE("toy progression: the prompt moves the image the asked way and the text says so") {
  at::manual_seed(0);  // the generator's initialisation, whatever ran before
  whatif::AutoregressiveParts p = parts();
  whatif::AutoregressiveModel model(p, config());
  const Progressions train(64, 1);
  const auto fitted = model.fit(train, fit_request(300));
  CATCH_REQUIRE(fitted.train.losses.back() < 0.25 * fitted.train.losses.front());
  // Unseen priors.
  const Progressions test(16, 2);
  std::vector<at::Tensor> priors, codes;
  for (std::int64_t s = 0; s < 16; ++s) {
    codes.push_back(test.prior_codes(s).view({-1}));
    priors.push_back(image_of(test.prior_codes(s)));
  }
  const at::Tensor prior = at::stack(priors), prior_codes = at::stack(codes);
  whatif::CounterfactualRequest r;
  r.protocol = "prior-conditioned";
  r.factual.prompts.assign(16, "darker");
  r.counterfactual.prompts.assign(16, "brighter");
  r.counterfactual.prior = prior;
  r.sampling.seed = 9;
  r.sampling.temperature = 1.0;
  r.sampling.max_text_length = 12;
  const whatif::Pair pair = model.counterfactual(r);
  const std::int64_t g = model.layout().grid_count();
  const auto accuracy = [&](const whatif::Generation& gen, std::int64_t shift) {
    const at::Tensor written = gen.tokens.narrow(1, 0, g) - model.layout().image_offset();
    return (written == prior_codes + shift).to(at::kDouble).mean().item<double>();
  };
  const double darker = accuracy(pair.factual, -1), brighter = accuracy(pair.counterfactual, +1);
  std::int64_t right_texts = 0, moved = 0;
  for (std::int64_t i = 0; i < 16; ++i) {
    right_texts += (pair.factual.texts[static_cast<std::size_t>(i)] == kDarker) +
                   (pair.counterfactual.texts[static_cast<std::size_t>(i)] == kBrighter);
    const double before = prior[i].mean().item<double>();
    moved += (pair.factual.volumes[i].mean().item<double>() < before) +
             (pair.counterfactual.volumes[i].mean().item<double>() > before);
  }
  std::cout << "toy progression: code accuracy darker " << darker << ", brighter " << brighter << "; texts right "
            << right_texts << "/32; moved the asked way " << moved << "/32; loss " << fitted.train.losses.front()
            << " → " << fitted.train.losses.back() << " in " << fitted.train.seconds << " s\n";
  CATCH_REQUIRE(darker > 0.9);
  CATCH_REQUIRE(brighter > 0.9);
  CATCH_REQUIRE(right_texts >= 30);
  CATCH_REQUIRE(moved >= 30);

  // Saved and loaded into fresh parts, it writes the same tokens.
  const auto path = (std::filesystem::temp_directory_path() / ("whatif-ar-" + std::to_string(::getpid()) + ".h5")).string();
  model.save(path);
  whatif::AutoregressiveModel again(parts(), config());
  again.load(path);
  std::filesystem::remove(path);
  const whatif::Pair reloaded = again.counterfactual(r);
  CATCH_REQUIRE(at::equal(reloaded.counterfactual.tokens, pair.counterfactual.tokens));
  CATCH_REQUIRE(reloaded.factual.texts == pair.factual.texts);
}

CATCH_TEST_CASE("autoregressive: bad input is refused in one line naming what to change") {
  Untrained u;
  whatif::GenerateRequest r;
  r.sampling.max_text_length = 8;
  r.condition.prompts = {"brighter"};
  CATCH_REQUIRE_THROWS_WITH(u.model.generate(r), Catch::Contains("give 'prior'"));
  r.condition.prior = at::zeros({2, 1, 16, 16});
  CATCH_REQUIRE_THROWS_WITH(u.model.generate(r), Catch::Contains("the model's grid 16"));
  r.condition.prior = at::zeros({1, 1, kSize, kSize});
  r.sampling.top_p = 0;
  CATCH_REQUIRE_THROWS_WITH(u.model.generate(r), Catch::Contains("'top_p'"));
  r.sampling.top_p = 1;
  r.sampling.max_text_length = 1000;
  CATCH_REQUIRE_THROWS_WITH(u.model.generate(r), Catch::Contains("'max_length'"));
  whatif::CounterfactualRequest c;
  c.protocol = "inversion";
  CATCH_REQUIRE_THROWS_WITH(u.model.counterfactual(c), Catch::Contains("prior-conditioned"));
  auto small = parts(transformer({"vocab_size=16"}));
  whatif::AutoregressiveModel tight(small, config());
  CATCH_REQUIRE_THROWS_WITH(tight.fit(u.data, fit_request(0)), Catch::Contains("'vocab_size' ≥"));
  auto haar = parts();
  haar.tokenizer = make<whatif::Encoder>("encoder", "haar", {"spatial_dims=2"});
  CATCH_REQUIRE_THROWS_WITH(whatif::AutoregressiveModel(haar, config()), Catch::Contains("discrete encoder"));
}

CATCH_TEST_CASE("autoregressive: a family scripts build through the generic binding") {
  const auto& family = whatif::model_family("autoregressive");
  CATCH_REQUIRE(family.parts == std::vector<std::string>{"tokenizer", "text", "generator"});
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("whatif-ar-lua-" + std::to_string(::getpid()));
  fs::create_directories(dir / "run");
  const auto run = [&](const std::string& code) {
    std::ofstream(dir / "ar.lua") << code;
    whatif::ScriptArgs args;
    args.path = (dir / "ar.lua").string();
    args.run_dir = (dir / "run").string();
    static whatif::Host host(whatif::HostConfig{1, "cpu", {}});
    try {
      whatif::Script script(host, args);
      script.run();
    } catch (const whatif::Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string parts_lua = R"(
    local text = whatif.text("transformer", {vocab_size = 40})
    local gen = whatif.generator("transformer", {vocab_size = 64, width = 32, heads = 2, layers = 1})
  )";
  // The family is reached as whatif.autoregressive{...}; a continuous encoder is refused by the
  // model itself, a misspelled option by the binding.
  CATCH_REQUIRE_THAT(run(parts_lua + "whatif.autoregressive{tokenizer = whatif.encoder('haar', {spatial_dims = 2}), "
                                     "text = text, generator = gen}\n"),
                     Catch::Contains("discrete encoder"));
  CATCH_REQUIRE_THAT(run(parts_lua + "whatif.autoregressive{text = text, generator = gen, prompt_lenght = 3}\n"),
                     Catch::Contains("prompt_length"));
  fs::remove_all(dir);
}

CATCH_TEST_CASE("toy progression through a trained vq-vae: its tokens carry the asked change and the text") {
  at::manual_seed(0);
  // 16×16 images, a vq-vae at 1/4 size (a 4×4 grid of codes from a 32-code book), trained first.
  const Progressions train(64, 1, 16);
  auto vq = make<whatif::Encoder>("encoder", "vq-vae",
                                  {"spatial_dims=2", "codebook_size=32", "codebook_dim=4", "downsample=4",
                                   "channels=16,32,32", "dead_code_steps=20"});
  whatif::TrainConfig vq_train;
  vq_train.steps = 150;
  vq_train.lr = 3e-3;
  vq_train.warmup = 20;
  vq_train.ema_decay = 0;
  vq_train.seed = 3;
  vq_train.label = "vq-vae";
  const auto vq_fit = whatif::fit_encoder(*vq, train, vq_train, 32);
  whatif::AutoregressiveParts p = parts();
  p.tokenizer = vq;
  whatif::AutoregressiveModel model(p, config());
  model.fit(train, fit_request(300));
  const Progressions test(16, 2, 16);
  std::vector<at::Tensor> priors;
  for (std::int64_t s = 0; s < 16; ++s) priors.push_back(image_of(test.prior_codes(s), 16));
  whatif::CounterfactualRequest r;
  r.factual.prompts.assign(16, "darker");
  r.counterfactual.prompts.assign(16, "brighter");
  r.counterfactual.prior = at::stack(priors);
  r.sampling.seed = 9;
  r.sampling.max_text_length = 12;
  const whatif::Pair pair = model.counterfactual(r);
  // Every image segment decoded to an image (the grid constraint); the brighter follow-up is the
  // brighter one, by about the two levels (2/7) that separate the true follow-ups.
  CATCH_REQUIRE(pair.counterfactual.volumes.sizes() == at::IntArrayRef({16, 1, 16, 16}));
  const at::Tensor gap = (pair.counterfactual.volumes - pair.factual.volumes).mean({1, 2, 3});
  std::int64_t right_texts = 0;
  for (std::int64_t i = 0; i < 16; ++i)
    right_texts += (pair.factual.texts[static_cast<std::size_t>(i)] == kDarker) +
                   (pair.counterfactual.texts[static_cast<std::size_t>(i)] == kBrighter);
  std::cout << "vq-vae toy progression: vq-vae recon PSNR " << vq_fit.recon_psnr << " dB; brighter − darker mean "
            << gap.mean().item<double>() << " (true 2/7 = " << 2.0 / 7 << "), min " << gap.min().item<double>()
            << "; texts right " << right_texts << "/32\n";
  CATCH_REQUIRE(gap.min().item<double>() > 0);
  CATCH_REQUIRE(gap.mean().item<double>() == Approx(2.0 / 7).margin(0.1));
  // 29 to 31 of 32 measured, by thread count and CPU type (oneDNN kernels): a draw, not a constant.
  CATCH_REQUIRE(right_texts >= 27);
}

// The token cache: codes computed once and read back, training bit-identical with or without it,
// and a latent cache of the same encoder at the same path is not taken for codes.
CATCH_TEST_CASE("token cache: a fit reads the codes back and trains exactly as without the cache") {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / ("whatif-tokens-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const Progressions data(8, 3);
  const auto losses = [&](const std::string& cache) {
    torch::manual_seed(11);  // the same initial weights every time
    auto p = parts();
    whatif::AutoregressiveModel model(p, config());
    auto request = fit_request(15);
    request.latent_cache = cache;
    return model.fit(data, request).train.losses;
  };
  const std::string cache = (dir / "tokens.h5").string();
  const auto plain = losses("");
  const auto building = losses(cache);
  CATCH_REQUIRE(std::filesystem::exists(cache));
  const auto reading = losses(cache);
  CATCH_CHECK(building == plain);
  CATCH_CHECK(reading == plain);

  PatchQuantizer tokenizer(kLevels);
  const whatif::EncodedData read = whatif::encode_dataset(tokenizer, data, cache, 16, whatif::Representation::Tokens);
  CATCH_CHECK(read.from_cache);
  CATCH_REQUIRE(read.latents.size() == static_cast<std::size_t>(data.size()));
  for (std::int64_t i = 0; i < data.size(); ++i)
    CATCH_CHECK(at::equal(read.latents[static_cast<std::size_t>(i)], tokenizer.tokenize(data.get(i).image.unsqueeze(0))[0]));
  CATCH_CHECK(read.texts[1] == data.get(1).text);

  const std::string latents = (dir / "latents.h5").string();
  whatif::encode_dataset(tokenizer, data, latents, 16, whatif::Representation::Latents);
  CATCH_CHECK_FALSE(whatif::encode_dataset(tokenizer, data, latents, 16, whatif::Representation::Tokens).from_cache);
  std::filesystem::remove_all(dir);
}

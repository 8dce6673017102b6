// Decoding speed of the autoregressive generator with and without its KV cache at a 1024-token
// context, and its training step time. Model: generator/transformer with 4 layers, width 256,
// 4 heads, vocabulary 1024 (≈3.7 M parameters; the exact count is printed).
//
//   bench_ar_decode [--tokens N] [--uncached-tokens N] [--steps N] [--threads T]
//
// Decoding is greedy from a 1024 − N token prompt up to 1024 tokens, batch 1: cached, each new
// token is one step over the cache; uncached, each new token recomputes the whole sequence (what
// decoding costs without the cache). The training step is logits, cross-entropy, backward and
// AdamW on a batch of 4 × 576 tokens, in fp32 and under bf16 autocast.
#include <cstdio>

#include "bench_common.hpp"
#include "whatif/generator.hpp"
#include "whatif/registry/registry.hpp"

namespace {

using bench::Clock;

constexpr std::int64_t kContext = 1024, kVocab = 1024, kSegments = 4;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Greedy decoding of `n` tokens after `prompt` [1, T]; returns the tokens written.
torch::Tensor decode(whatif::Generator& g, const torch::Tensor& prompt, std::int64_t n, bool cached) {
  torch::InferenceMode inference;
  const auto segments = [](std::int64_t length) { return torch::zeros({1, length}, torch::kLong); };
  torch::Tensor sequence = prompt;
  std::unique_ptr<whatif::GeneratorState> state;
  torch::Tensor logits;
  if (cached) {
    state = g.start(1);
    logits = g.step(*state, prompt, segments(prompt.size(1))).select(1, -1);
  } else {
    logits = g.logits(prompt, segments(prompt.size(1))).select(1, -1);
  }
  for (std::int64_t i = 0; i < n; ++i) {
    const torch::Tensor next = logits.argmax(-1, true);
    sequence = torch::cat({sequence, next}, 1);
    if (i + 1 == n) break;
    logits = cached ? g.step(*state, next, segments(1)).select(1, -1)
                    : g.logits(sequence, segments(sequence.size(1))).select(1, -1);
  }
  return sequence.narrow(1, prompt.size(1), n);
}

double train_step_ms(whatif::Generator& g, bool bf16, int steps) {
  std::vector<torch::Tensor> params;
  for (auto& [name, p] : g.named_parameters()) params.push_back(p);
  torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(1e-4));
  g.train(true);
  const auto tokens = torch::randint(0, kVocab, {4, 576}, torch::kLong);
  const auto segments = torch::randint(0, kSegments, {4, 576}, torch::kLong);
  const auto one = [&] {
    torch::Tensor loss;
    {
      whatif::AutocastGuard autocast(bf16);
      const auto logits = g.logits(tokens, segments);
      loss = torch::cross_entropy_loss(logits.narrow(1, 0, 575).reshape({-1, kVocab}),
                                       tokens.narrow(1, 1, 575).reshape({-1}));
    }
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  };
  one();
  const auto start = Clock::now();
  for (int i = 0; i < steps; ++i) one();
  return seconds_since(start) * 1000.0 / steps;
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = bench::parse_flags(argc, argv, {{"tokens", 64}, {"uncached-tokens", 16}, {"steps", 5}, {"threads", 2}},
                                        "bench_ar_decode [--tokens N] [--uncached-tokens N] [--steps N] [--threads T]");
  const auto n = static_cast<std::int64_t>(flags.at("tokens"));
  const auto n_uncached = static_cast<std::int64_t>(flags.at("uncached-tokens"));
  const int threads = static_cast<int>(flags.at("threads"));
  torch::set_num_threads(threads);
  whatif::keep_freed_memory();
  torch::manual_seed(0);
  whatif::Registry registry;
  registry.load(std::string(WHATIF_PLUGIN_DIR) + "/libwhatif-plugin-generators.so");
  auto g = registry.create_as<whatif::Generator>(
      "generator", "transformer",
      whatif::Options::from_strings({"vocab_size=1024", "segments=4", "max_length=1024", "width=256", "layers=4", "heads=4"}));
  std::int64_t parameters = 0;
  for (auto& [name, p] : g->named_parameters()) parameters += p.numel();
  g->train(false);

  // Both paths end at the full 1024-token context.
  const auto prompt = torch::randint(0, kVocab, {1, kContext - n}, torch::kLong);
  decode(*g, prompt.narrow(1, 0, 64), 4, true);  // warm-up
  auto start = Clock::now();
  const auto cached = decode(*g, prompt, n, true);
  const double cached_rate = static_cast<double>(n) / seconds_since(start);
  const auto uncached_prompt = torch::cat({prompt, cached.narrow(1, 0, n - n_uncached)}, 1);
  start = Clock::now();
  const auto uncached = decode(*g, uncached_prompt, n_uncached, false);
  const double uncached_rate = static_cast<double>(n_uncached) / seconds_since(start);
  // The same greedy tokens either way (the cache is an optimisation, not an approximation).
  const bool same = torch::equal(uncached, cached.narrow(1, n - n_uncached, n_uncached));

  const double fp32 = train_step_ms(*g, false, static_cast<int>(flags.at("steps")));
  const double bf16 = train_step_ms(*g, true, static_cast<int>(flags.at("steps")));

  std::printf("generator/transformer: 4 layers, width 256, 4 heads, vocabulary 1024, %.2f M parameters, %d threads\n",
              static_cast<double>(parameters) / 1e6, threads);
  std::printf("  greedy decoding up to a %lld-token context, batch 1: cached %.1f tokens/s (%lld tokens), "
              "uncached %.2f tokens/s (%lld tokens); cached/uncached %.1fx; same tokens: %s\n",
              static_cast<long long>(kContext), cached_rate, static_cast<long long>(n), uncached_rate,
              static_cast<long long>(n_uncached), cached_rate / uncached_rate, same ? "yes" : "NO");
  std::printf("  train step, batch 4 x 576 tokens: fp32 %.1f ms, bf16 autocast %.1f ms (bf16/fp32 %.2f)\n", fp32, bf16,
              bf16 / fp32);
  std::printf("bench: ar_decode_tokens_per_s_cached %.1f tokens/s\n", cached_rate);
  std::printf("bench: ar_decode_tokens_per_s_uncached %.2f tokens/s\n", uncached_rate);
  std::printf("bench: ar_decode_cached_over_uncached %.1f x\n", cached_rate / uncached_rate);
  std::printf("bench: ar_train_step_ms %.1f ms\n", fp32);
  std::printf("bench: ar_train_step_ms_bf16 %.1f ms\n", bf16);
  std::printf("bench: ar_peak_rss_mb %.0f MB\n", bench::peak_rss_mb());
  return same ? 0 : 1;
}

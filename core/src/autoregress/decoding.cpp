#include "autoregress/decoding.hpp"

#include <cmath>
#include <limits>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "whatif/registry/error.hpp"

namespace whatif {

void DecodeOptions::check() const {
  if (!(temperature >= 0) || !std::isfinite(temperature))
    throw Error("option 'temperature' must be ≥ 0 (0 = greedy), got " + std::to_string(temperature));
  if (top_k < 0) throw Error("option 'top_k' must be ≥ 0 (0 = all tokens), got " + std::to_string(top_k));
  if (!(top_p > 0 && top_p <= 1)) throw Error("option 'top_p' must be in (0, 1], got " + std::to_string(top_p));
  if (!std::isfinite(guidance)) throw Error("option 'guidance' must be finite");
  if (max_text_length < 0)
    throw Error("option 'max_text_length' must be ≥ 0, got " + std::to_string(max_text_length));
}

at::Tensor allowed_tokens(const TokenLayout& layout, std::int64_t vocab, std::int64_t i,
                          std::int64_t max_text_length) {
  at::Tensor allowed = at::zeros({vocab}, at::kBool);
  const std::int64_t g = layout.grid_count();
  if (i < g) {
    allowed.narrow(0, layout.image_offset(), layout.codebook).fill_(true);
  } else {
    allowed[TokenLayout::kEnd] = true;
    if (i - g < max_text_length)
      allowed.narrow(0, TokenLayout::kSpecials, layout.image_offset() - TokenLayout::kSpecials).fill_(true);
  }
  return allowed;
}

at::Tensor sample_tokens(const at::Tensor& logits, const DecodeOptions& o, at::Generator& generator) {
  if (o.temperature == 0) return logits.argmax(-1);
  at::Tensor scaled = logits / o.temperature;
  const auto minus_inf = -std::numeric_limits<float>::infinity();
  if (o.top_k > 0 && o.top_k < scaled.size(-1)) {
    const at::Tensor kth = std::get<0>(scaled.topk(o.top_k, -1)).narrow(-1, o.top_k - 1, 1);
    scaled = scaled.masked_fill(scaled < kth, minus_inf);
  }
  at::Tensor probs = at::softmax(scaled, -1);
  if (o.top_p < 1) {
    const auto [sorted, order] = probs.sort(-1, true);
    // Keep a token if the probability of the likelier ones is still below p (the first always).
    const at::Tensor before = sorted.cumsum(-1) - sorted;
    const at::Tensor keep_sorted = before < o.top_p;
    const at::Tensor keep = at::zeros_like(keep_sorted).scatter(-1, order, keep_sorted);
    probs = probs.masked_fill(~keep, 0.0);
  }
  return at::multinomial(probs, 1, false, generator).squeeze(-1);
}

namespace {

// Next-token logits of every stream, with or without the KV cache.
class Streams {
 public:
  Streams(Generator& g, const TokenLayout& layout, at::Tensor prefix, bool cache)
      : generator_(g), layout_(layout), cache_(cache), sequence_(std::move(prefix)) {
    const auto b = sequence_.size(0), n = sequence_.size(1);
    if (cache_) {
      state_ = generator_.start(b);
      last_ = generator_.step(*state_, sequence_, layout_.segments(b, 0, n)).select(1, n - 1);
    } else {
      last_ = full();
    }
  }

  const at::Tensor& logits() const { return last_; }  // [B, V] for the next token

  void append(const at::Tensor& tokens) {  // [B]
    const auto b = sequence_.size(0), n = sequence_.size(1);
    sequence_ = at::cat({sequence_, tokens.unsqueeze(1)}, 1);
    last_ = cache_ ? generator_.step(*state_, tokens.unsqueeze(1), layout_.segments(b, n, 1)).select(1, 0)
                   : full();
  }

 private:
  at::Tensor full() {
    const auto b = sequence_.size(0), n = sequence_.size(1);
    return generator_.logits(sequence_, layout_.segments(b, 0, n)).select(1, n - 1);
  }

  Generator& generator_;
  const TokenLayout& layout_;
  bool cache_;
  at::Tensor sequence_, last_;
  std::unique_ptr<GeneratorState> state_;
};

}  // namespace

at::Tensor decode(Generator& generator, const TokenLayout& layout, const at::Tensor& prefix,
                  const DecodeOptions& options) {
  options.check();
  const std::int64_t batch = prefix.size(0), g = layout.grid_count();
  const std::int64_t length = g + options.max_text_length + 1;
  if (layout.prefix_length() + length - 1 > generator.max_length())
    throw Error("autoregressive: a prefix of " + std::to_string(layout.prefix_length()) + " tokens and " +
                std::to_string(length) + " to write need a generator with max_length ≥ " +
                std::to_string(layout.prefix_length() + length - 1) + ": raise its 'max_length' or lower 'max_text_length'");
  const bool guided = options.guidance != 1.0;
  Streams streams(generator, layout, guided ? at::cat({prefix, layout.unconditional(prefix)}) : prefix, options.cache);
  at::Generator rng = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  at::Tensor out = at::full({batch, length}, TokenLayout::kPad, at::kLong);
  at::Tensor ended = at::zeros({batch}, at::kBool);
  const auto vocab = generator.vocab_size();
  const auto minus_inf = -std::numeric_limits<float>::infinity();
  at::Tensor pad_only = at::zeros({vocab}, at::kBool);
  pad_only[TokenLayout::kPad] = true;
  for (std::int64_t i = 0; i < length; ++i) {
    at::Tensor logits = streams.logits();
    if (guided) {
      const at::Tensor c = logits.narrow(0, 0, batch), u = logits.narrow(0, batch, batch);
      logits = u + options.guidance * (c - u);
    }
    const at::Tensor allowed = at::where(ended.unsqueeze(1), pad_only.unsqueeze(0),
                                         allowed_tokens(layout, vocab, i, options.max_text_length).unsqueeze(0));
    const at::Tensor next = sample_tokens(logits.masked_fill(~allowed, minus_inf), options, rng);
    out.select(1, i).copy_(next);
    ended = ended | (next == TokenLayout::kEnd);
    if (ended.all().item<bool>() || i + 1 == length) break;
    streams.append(guided ? at::cat({next, next}) : next);
  }
  return out;
}

}  // namespace whatif

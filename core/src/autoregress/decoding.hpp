#pragma once
// Decoding of the follow-up: grid-constrained sampling with temperature, top-k and top-p, and
// classifier-free guidance for autoregression.
//
// Grid constraint: output token i < G may only be an image code, so the image segment is exactly
// the tokenizer's grid; then text tokens or end, and end is forced after `max_text_length` text
// tokens; after end, pad. Guidance runs the conditional prefix and its unconditional twin (the
// prompt replaced by pads) as two streams of one batch, each with its KV cache, and samples from
// ℓ_u + w (ℓ_c − ℓ_u) (Ho & Salimans 2022, applied to next-token logits); w = 1 runs the
// conditional stream alone. With `cache` off every step recomputes the whole sequence: the
// reference the cached path is tested and benchmarked against.
#include <cstdint>

#include <ATen/core/Generator.h>

#include "autoregress/token_layout.hpp"
#include "whatif/generator.hpp"

namespace whatif {

struct DecodeOptions {
  double temperature = 1.0;  // 0 = greedy
  std::int64_t top_k = 0;    // 0 = all
  double top_p = 1.0;
  double guidance = 1.0;
  std::int64_t max_text_length = 64;
  std::uint64_t seed = 0;
  bool cache = true;

  void check() const;  // throws naming the first bad option
};

// Allowed tokens [V] bool for output index i (0 = the first target token) of a row that has
// (`ended`) or has not yet written end.
at::Tensor allowed_tokens(const TokenLayout& layout, std::int64_t vocab, std::int64_t i,
                          std::int64_t max_text_length);

// One token per row of `logits` [B, V] (−inf where not allowed): temperature, then top-k, then
// top-p (the smallest set of likeliest tokens whose probability reaches p), then a draw from
// `generator`.
at::Tensor sample_tokens(const at::Tensor& logits, const DecodeOptions& options, at::Generator& generator);

// The output segment [B, G + max_text_length + 1] after `prefix` [B, prefix_length]: G image
// tokens, text, end, then pad.
at::Tensor decode(Generator& generator, const TokenLayout& layout, const at::Tensor& prefix,
                  const DecodeOptions& options);

}  // namespace whatif

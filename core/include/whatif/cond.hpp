#pragma once
// What a conditioning scheme hands a denoiser or generator. Any field may be undefined.
#include <string>
#include <vector>

#include "whatif/tensor.hpp"

namespace whatif {

struct Cond {
  at::Tensor context;       // [B, T, D] tokens for cross-attention
  at::Tensor context_mask;  // [B, T] bool, true where a token is real
  at::Tensor vector;        // [B, D] for FiLM / adaptive norms
  at::Tensor spatial;       // [B, C, (D,) H, W] concatenated to the input
};

// The raw, per-batch inputs a conditioning scheme turns into a Cond.
struct CondInput {
  std::vector<std::string> text;  // one prompt or report per example
  at::Tensor attributes;          // [B, A] numeric attributes (categorical ones as indices)
  at::Tensor source;              // [B, C, (D,) H, W] source image for image conditioning
  std::int64_t batch_size() const;
};

}  // namespace whatif

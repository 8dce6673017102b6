#pragma once
// conditioning/attributes: the non-language baseline. Each attribute column gets its own
// embedding into a shared width — numeric: a·w + b, categorical: a learned row per class — the
// embeddings are summed, passed through SiLU, and projected to a `vector` and a one-token
// `context`. Numeric columns are divided by their `scales` entry first (default 1): give each about
// its typical size (chest findings in ml reach hundreds), so no column saturates the embedding.
#include "module_conditioning.hpp"

namespace whatif_conditioning {

struct AttributesOptions {
  std::vector<std::int64_t> categories{0};  // per column: 0 = numeric, n = n classes
  std::vector<double> scales;               // per column, numeric ones divided by it; empty = all 1
  std::int64_t width = 128;
  std::int64_t vector_dim = 128;   // 0: no vector
  std::int64_t context_dim = 128;  // 0: no context
  NullKind null = NullKind::Learned;
  double dropout = 0.1;
};

class AttributesConditioning : public ModuleConditioning {
 public:
  explicit AttributesConditioning(const AttributesOptions& options);

  whatif::Cond encode(const whatif::CondInput& input) override;
  whatif::Cond null(std::int64_t batch_size) override;

 private:
  // The summed per-column embeddings [B, width] of attributes [B, A].
  torch::Tensor embed(const torch::Tensor& attributes);

  AttributesOptions options_;
  std::vector<torch::nn::Linear> numeric_;        // by column; null where categorical
  std::vector<torch::nn::Embedding> categorical_;  // by column; null where numeric
  torch::nn::Linear vector_out_{nullptr}, context_out_{nullptr};
  torch::Tensor null_vector_, null_context_;
};

}  // namespace whatif_conditioning

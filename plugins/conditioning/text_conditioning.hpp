#pragma once
// conditioning/cross-attention and conditioning/film: the attached text encoder's output,
// linearly projected to the denoiser's width.
//   cross-attention: tokens [B, T, W] → context [B, T, context_dim], the text's mask kept; with
//                    vector_dim > 0 also pooled [B, W] → vector [B, vector_dim] (both paths,
//                    as conditioning/attributes feeds them)
//   film:            pooled [B, W]    → vector  [B, vector_dim]
// The null condition is one learned (or zero) embedding per output: a single real context token,
// and/or the vector.
#include "module_conditioning.hpp"

namespace whatif_conditioning {

enum class TextTarget { Context, Vector };

class TextConditioning : public ModuleConditioning {
 public:
  // `target` is the primary output, of width `dim`; `vector_dim` > 0 adds the pooled vector to a
  // Context target.
  TextConditioning(TextTarget target, std::int64_t dim, NullKind null, double dropout,
                   std::int64_t vector_dim = 0);

  // Builds the projections for the encoder's width; parameters exist from here on.
  void attach_text(std::shared_ptr<whatif::TextEncoder> text) override;
  whatif::Cond encode(const whatif::CondInput& input) override;
  whatif::Cond null(std::int64_t batch_size) override;

 private:
  TextTarget target_;
  std::int64_t dim_, vector_dim_;
  std::shared_ptr<whatif::TextEncoder> text_;
  // "projection" and "null_embedding" (the primary output) keep their names from before the
  // second path, so saved models still load.
  torch::nn::Linear projection_{nullptr}, vector_projection_{nullptr};
  torch::Tensor null_embedding_, null_vector_;
};

}  // namespace whatif_conditioning

#pragma once
// conditioning/cross-attention and conditioning/film: the attached text encoder's output,
// linearly projected to the denoiser's width.
//   cross-attention: tokens [B, T, W] → context [B, T, context_dim], the text's mask kept
//   film:            pooled [B, W]    → vector  [B, vector_dim]
// The null condition is one [dim] embedding (learned or zeros): a single real context token, or
// the vector.
#include "module_conditioning.hpp"

namespace whatif_conditioning {

enum class TextTarget { Context, Vector };

class TextConditioning : public ModuleConditioning {
 public:
  TextConditioning(TextTarget target, std::int64_t dim, NullKind null, double dropout);

  // Builds the projection for the encoder's width; parameters exist from here on.
  void attach_text(std::shared_ptr<whatif::TextEncoder> text) override;
  whatif::Cond encode(const whatif::CondInput& input) override;
  whatif::Cond null(std::int64_t batch_size) override;

 private:
  TextTarget target_;
  std::int64_t dim_;
  std::shared_ptr<whatif::TextEncoder> text_;
  torch::nn::Linear projection_{nullptr};
  torch::Tensor null_embedding_;
};

}  // namespace whatif_conditioning

#pragma once
// conditioning/concat: the source image itself as `spatial`, concatenated to the denoiser's input
// (image-to-image translation, SR3/Palette style). The null condition is a zero image.
#include "module_conditioning.hpp"

namespace whatif_conditioning {

class ConcatConditioning : public ModuleConditioning {
 public:
  // `size` [(D,) H, W] fixes the null image's size; empty means the last source's size.
  ConcatConditioning(std::int64_t channels, std::vector<std::int64_t> size, double dropout);

  whatif::Cond encode(const whatif::CondInput& input) override;
  whatif::Cond null(std::int64_t batch_size) override;
  // Zeros of the condition's own shape, so any source size can be dropped.
  whatif::Cond drop(const whatif::Cond& cond, const at::Tensor& drop) override;

 private:
  std::int64_t channels_;
  std::vector<std::int64_t> size_;
  std::vector<std::int64_t> last_size_;
};

}  // namespace whatif_conditioning

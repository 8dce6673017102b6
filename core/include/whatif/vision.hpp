#pragma once
// kind `vision`: an image tower, volume → one feature vector per example (the image side of a
// contrastively trained dual encoder, whatif.clip). Unlike an encoder it has no decoder: it keeps
// what tells images apart and throws away what rebuilds them.
#include <cstdint>

#include "whatif/registry/component.hpp"
#include "whatif/tensor.hpp"

namespace whatif {

class VisionEncoder : public Component, public Trainable {
 public:
  ~VisionEncoder() override;

  // [B, C, (D,) H, W] → [B, width()], not normalised.
  virtual at::Tensor embed(const at::Tensor& x) = 0;
  virtual std::int64_t width() const = 0;
  virtual int spatial_dims() const = 0;

  // The embedding together with a feature map at the input's resolution [B, map_channels(), *S]
  // from the same pass, for per-voxel heads (whatif.clip's auxiliary mask loss). Towers without
  // such a map keep map_channels() at 0, and this throws naming what to use instead.
  struct WithMap {
    at::Tensor embedding, map;
  };
  virtual WithMap embed_with_map(const at::Tensor& x);
  virtual std::int64_t map_channels() const { return 0; }
};

}  // namespace whatif

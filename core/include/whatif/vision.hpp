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
};

}  // namespace whatif

#pragma once
// kind `denoiser`: a network f(x_t, noise_level, cond) → prediction. What the prediction means
// (ε, x or v) is decided by the diffusion process, not by the network.
#include "whatif/cond.hpp"
#include "whatif/registry/component.hpp"
#include "whatif/tensor.hpp"

namespace whatif {

class Denoiser : public Component, public Trainable {
 public:
  ~Denoiser() override;

  // x_t: [B, C, (D,) H, W]; noise_level: [B] (the process passes λ or its own c_noise).
  virtual at::Tensor forward(const at::Tensor& x_t, const at::Tensor& noise_level,
                             const Cond& cond) = 0;
  virtual std::int64_t spatial_dims() const = 0;
  virtual std::int64_t in_channels() const = 0;
  virtual std::int64_t out_channels() const = 0;
};

}  // namespace whatif

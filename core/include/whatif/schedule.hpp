#pragma once
// kind `schedule`: continuous time t ∈ [0, 1] → log signal-to-noise ratio λ(t), and back.
#include "whatif/registry/component.hpp"
#include "whatif/tensor.hpp"

namespace whatif {

class Schedule : public Component {
 public:
  ~Schedule() override;

  // λ(t), elementwise; t = 0 is (nearly) clean data, t = 1 (nearly) pure noise.
  virtual at::Tensor logsnr(const at::Tensor& t) const = 0;
  // The inverse t(λ), elementwise. Throws Error where the schedule is not invertible.
  virtual at::Tensor time(const at::Tensor& logsnr) const = 0;
  // Signal and noise scales (α, σ) of x_t = α x + σ ε. The default is variance preserving:
  // α² = sigmoid(λ), σ² = sigmoid(−λ). Non-VP processes (rectified flow, EDM) override it.
  virtual std::pair<at::Tensor, at::Tensor> alpha_sigma(const at::Tensor& t) const;
};

}  // namespace whatif

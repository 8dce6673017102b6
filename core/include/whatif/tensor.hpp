#pragma once
// The lightest headers that give whatif's public interfaces at::Tensor and c10::Device. Public
// headers include this, never <torch/torch.h>: every plugin compiles against them.
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <string>
#include <utility>
#include <vector>

namespace whatif {

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// A part with learnable state. Implementations usually wrap a torch::nn::Module; the interface
// stays free of torch/nn headers so that plugins and the host compile fast.
class Trainable {
 public:
  virtual ~Trainable();
  // Parameters by stable dotted name (what checkpoints store).
  virtual NamedTensors named_parameters() = 0;
  // Non-learned state that checkpoints must keep (running statistics, scale factors).
  virtual NamedTensors named_buffers() { return {}; }
  virtual void train(bool on) = 0;
  virtual void to(const c10::Device& device) = 0;
};

}  // namespace whatif

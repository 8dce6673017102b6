#pragma once
// Activation checkpointing: a block's inner activations are not kept for backward; when the
// gradient reaches the block, it runs again from its saved inputs (with the autocast state and
// random numbers of the first run) and backpropagates through that recomputation. One more
// forward of the block buys the memory of everything inside it.
#include <functional>
#include <vector>

#include "whatif/tensor.hpp"

namespace whatif::nn {

using Block = std::function<at::Tensor(const std::vector<at::Tensor>&)>;

// block(inputs), checkpointed when grad mode is on (plain call otherwise). The block's parameters
// get their gradients even when no input requires one. Inputs must be defined tensors.
at::Tensor checkpoint(Block block, const std::vector<at::Tensor>& inputs);

}  // namespace whatif::nn

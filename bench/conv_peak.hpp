#pragma once
// The convolution roofline's ceiling on this machine: forward + backward of one 64-channel
// 3×3×3 convolution on a [2, 64, S, S, S] input (S = 32 by default), the densest layer a 3D U-Net
// step runs.
#include <chrono>

#include <torch/torch.h>

#include "train/autocast.hpp"

namespace bench {

// GFLOP/s of that layer's training step (forward, input and weight gradients: 3 × the forward's
// 2 · multiply-adds) over `steps` timed steps after two warm-up steps.
inline double conv_peak_gflops(bool bf16, int steps, std::int64_t size = 32) {
  torch::manual_seed(0);
  torch::nn::Conv3d conv(torch::nn::Conv3dOptions(64, 64, 3).padding(1));
  const auto x = torch::randn({2, 64, size, size, size}).requires_grad_(true);
  const double flops = 3.0 * 2.0 * 64.0 * 27.0 * static_cast<double>(x.numel());
  const auto step = [&] {
    torch::Tensor y;
    {
      whatif::AutocastGuard autocast(bf16);
      y = conv->forward(x);
    }
    y.to(torch::kFloat).sum().backward();
  };
  for (int i = 0; i < 2; ++i) step();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) step();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return flops * steps / seconds / 1e9;
}

}  // namespace bench

#pragma once
// The KL autoencoder's blocks (Rombach et al. 2022, after Esser et al. 2021), 2D and 3D alike, on
// whatif::nn's convolution, fp32 norm and spatial attention: norms use ε = 1e-6 as in the LDM
// autoencoder, convolutions spell their padding out.
#include <torch/torch.h>
#include <whatif/nn/layers.hpp>

namespace whatif_encoders {

inline whatif::nn::Conv vae_conv(int dims, std::int64_t in, std::int64_t out, std::int64_t kernel,
                                 std::int64_t stride, std::int64_t padding) {
  return whatif::nn::Conv(dims, in, out, kernel, stride, false, padding);
}

inline whatif::nn::GroupNorm32 vae_norm(std::int64_t groups, std::int64_t channels) {
  return whatif::nn::GroupNorm32(groups, channels, 1e-6);
}

// Single-head self-attention over all spatial positions, residual.
inline whatif::nn::SpatialAttention vae_attention(std::int64_t channels, std::int64_t groups) {
  return whatif::nn::SpatialAttention(channels, groups, 1, true, 0, 1e-6);
}

// norm → SiLU → conv3 → norm → SiLU → conv3, plus the input (1×1 projection if widths differ).
struct VaeResBlockImpl : torch::nn::Module {
  VaeResBlockImpl(int dims, std::int64_t in, std::int64_t out, std::int64_t groups);
  torch::Tensor forward(const torch::Tensor& x);
  whatif::nn::GroupNorm32 norm1{nullptr}, norm2{nullptr};
  whatif::nn::Conv conv1{nullptr}, conv2{nullptr}, skip{nullptr};
};
TORCH_MODULE(VaeResBlock);

}  // namespace whatif_encoders

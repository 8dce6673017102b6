#pragma once
// The KL autoencoder's blocks (Rombach et al. 2022, after Esser et al. 2021), 2D and 3D alike, on
// whatif::nn's convolution, fp32 norm and spatial attention: norms use ε = 1e-6 as in the LDM
// autoencoder, convolutions spell their padding out.
#include <string>
#include <vector>

#include <torch/torch.h>
#include <whatif/nn/layers.hpp>
#include <whatif/registry/options.hpp>

namespace whatif_encoders {

// k with 2^k == n, or -1 when n is not a power of two (the autoencoders' downsampling factors).
std::int64_t log2_exact(std::int64_t n);

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

// The convolutional trunk the KL and VQ autoencoders share, 2D or 3D: conv in, per level
// `res_blocks` blocks then a stride-2 convolution, a bottleneck (block, [attention], block), norm,
// SiLU, conv to `encoded_channels`; and the mirror image from `latent_channels` back to
// `in_channels` (res_blocks + 1 blocks per level, nearest upsampling then a convolution).
struct VaeTrunkShape {
  int spatial_dims = 3;
  std::int64_t in_channels = 1;
  std::vector<std::int64_t> channels;  // one width per resolution
  std::int64_t res_blocks = 1, groups = 8;
  bool attention = false;              // self-attention in both bottlenecks
  std::int64_t encoded_channels = 0;   // what the encoder's last convolution writes
  std::int64_t latent_channels = 0;    // what the decoder's first convolution reads
  bool checkpointing = false;          // residual blocks recompute their activations in backward
};

// The `checkpointing` option both VAEs take.
whatif::OptionSpec checkpointing_option();

struct VaeTrunk {
  // Builds the layers and registers them in `owner` under the names below, which are the names
  // checkpoints store.
  void build(torch::nn::Module& owner, const VaeTrunkShape& shape);
  torch::Tensor encode(const torch::Tensor& x);  // [B, encoded_channels, *S / 2^(levels-1)]
  torch::Tensor decode(const torch::Tensor& z);  // [B, in_channels, *S]

  VaeTrunkShape shape;
  whatif::nn::Conv enc_in{nullptr}, enc_out{nullptr}, dec_in{nullptr}, dec_out{nullptr};
  whatif::nn::GroupNorm32 enc_norm{nullptr}, dec_norm{nullptr};
  torch::nn::ModuleList enc_blocks, enc_down, enc_mid, dec_mid, dec_blocks, dec_up;
};

// Refuses an input that is not [B, in_channels, *S] with every side divisible by `downsample`,
// naming the encoder `name` and the call `what`.
void check_vae_input(const std::string& name, const VaeTrunkShape& shape, std::int64_t downsample,
                     const at::Tensor& x, const char* what);
// [latent_channels, *S / downsample] of an input [in_channels, *S]; refuses other inputs likewise.
std::vector<std::int64_t> vae_latent_shape(const std::string& name, const VaeTrunkShape& shape,
                                           std::int64_t downsample, std::int64_t latent_channels,
                                           const std::vector<std::int64_t>& input);

}  // namespace whatif_encoders

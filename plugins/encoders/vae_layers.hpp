#pragma once
// Building blocks of the KL autoencoder and its patch discriminator, 2D and 3D alike. Plugins do
// not share code, so these are the encoder plugin's own: a convolution, an fp32 GroupNorm, the
// pre-activation residual block and single-head spatial self-attention of the LDM autoencoder
// (Rombach et al. 2022, after Esser et al. 2021).
#include <torch/torch.h>

namespace whatif_encoders {

// A 2D or 3D convolution with PyTorch's default initialisation. `frozen` convolves with detached
// weights: the adversarial generator term uses the discriminator without training it.
struct VaeConvImpl : torch::nn::Module {
  VaeConvImpl(int dims, std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride,
              std::int64_t padding);
  torch::Tensor forward(const torch::Tensor& x, bool frozen = false);
  int dims;
  std::int64_t stride, padding;
  torch::Tensor weight, bias;
};
TORCH_MODULE(VaeConv);

// Normalisation with statistics in fp32 whatever the input dtype (LibTorch 1.13's CPU autocast fails
// on a bf16 input with fp32 affine parameters, and fp32 statistics are the accurate choice anyway).
// `groups` > 0: GroupNorm (Wu & He 2018), statistics over channel groups and all positions, as in
// Rombach et al. 2022. `groups` == 0: a per-voxel LayerNorm over channels (as in ConvNeXt, Liu et
// al. 2022), whose statistics are local, so a tile normalises exactly as the whole volume does.
struct VaeNormImpl : torch::nn::Module {
  VaeNormImpl(std::int64_t groups, std::int64_t channels);
  torch::Tensor forward(const torch::Tensor& x, bool frozen = false);
  std::int64_t groups;
  torch::Tensor weight, bias;
};
TORCH_MODULE(VaeNorm);

// norm → SiLU → conv3 → norm → SiLU → conv3, plus the input (1×1 projection if widths differ).
struct VaeResBlockImpl : torch::nn::Module {
  VaeResBlockImpl(int dims, std::int64_t in, std::int64_t out, std::int64_t groups);
  torch::Tensor forward(const torch::Tensor& x);
  VaeNorm norm1{nullptr}, norm2{nullptr};
  VaeConv conv1{nullptr}, conv2{nullptr}, skip{nullptr};
};
TORCH_MODULE(VaeResBlock);

// Single-head self-attention over all spatial positions, residual. Memory grows with the square of
// the number of positions: at a 32³ latent that is a 32768² score matrix (4 GiB in fp32).
struct VaeAttentionImpl : torch::nn::Module {
  VaeAttentionImpl(std::int64_t channels, std::int64_t groups);
  torch::Tensor forward(const torch::Tensor& x);
  VaeNorm norm{nullptr};
  torch::nn::Linear qkv{nullptr}, proj{nullptr};
};
TORCH_MODULE(VaeAttention);

}  // namespace whatif_encoders

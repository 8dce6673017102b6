#pragma once
// vision/vit: a vision transformer (Dosovitskiy et al. 2021), 2D or 3D as in the 3D CLIP towers
// (CT-ViT of CT-CLIP, Hamamci et al. 2024): the image cut into non-overlapping patches, each
// linearly embedded (a convolution with kernel = stride = patch), fixed sinusoidal positions per
// axis added (so any image size divisible by the patch works without resizing a table), a learned
// class token in front, pre-norm transformer blocks, and the class token's final LayerNorm state
// mapped linearly to the output width.
#include <cstdint>

#include <torch/torch.h>

#include <whatif/nn/layers.hpp>

#include "tower.hpp"

namespace whatif_vision {

struct ViTConfig {
  std::int64_t spatial_dims = 3;
  std::int64_t in_channels = 1;
  std::int64_t patch = 8;       // patch side, voxels
  std::int64_t hidden = 192;    // token width
  std::int64_t layers = 4;
  std::int64_t heads = 4;
  std::int64_t mlp_ratio = 4;
  std::int64_t width = 256;     // output features

  void check() const;  // throws naming the first bad option
};

// x + attention(norm(x)), then x + mlp(norm(x)).
struct ViTBlockImpl : torch::nn::Module {
  ViTBlockImpl(std::int64_t hidden, std::int64_t heads, std::int64_t mlp_ratio);
  torch::Tensor forward(const torch::Tensor& x);
  std::int64_t heads;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::Linear qkv{nullptr}, proj{nullptr}, mlp_in{nullptr}, mlp_out{nullptr};
};
TORCH_MODULE(ViTBlock);

// Sinusoidal features of a patch grid: [prod(grid), hidden], each axis taking an equal share of
// the sin/cos pairs (the remainder of `hidden` is zero).
torch::Tensor grid_positions(const std::vector<std::int64_t>& grid, std::int64_t hidden);

struct ViTImpl : torch::nn::Module {
  explicit ViTImpl(const ViTConfig& config);
  void check_input(const torch::Tensor& x) const;  // also: every size a multiple of the patch
  torch::Tensor forward(const torch::Tensor& x);    // [B, C, *S] → [B, width]
  ViTConfig config;
  whatif::nn::Conv patches{nullptr};
  torch::Tensor cls;
  torch::nn::ModuleList blocks;
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};
};
TORCH_MODULE(ViT);

using ViTEncoder = Tower<ViT>;

}  // namespace whatif_vision

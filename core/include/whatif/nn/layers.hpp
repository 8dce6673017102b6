#pragma once
// Building blocks of the networks (U-Net, U-ViT, autoencoders, discriminators), 2D and 3D alike.
// Plugins share them through this library instead of copying each other.
#include <torch/torch.h>

#include "whatif/tensor.hpp"

namespace whatif::nn {

// A module's parameters or buffers as whatif's (name, tensor) list: what a Trainable returns.
NamedTensors named_tensors(const torch::OrderedDict<std::string, torch::Tensor>& dict);

// A 2D or 3D convolution with PyTorch's default initialisation (kaiming_uniform(a=√5), fan-in
// uniform bias) or zero weights and bias. `padding` < 0: "same" padding for odd kernels.
// `frozen` convolves with detached weights (a discriminator used by the generator's loss without
// being trained by it).
struct ConvImpl : torch::nn::Module {
  ConvImpl(int dims, std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride = 1,
           bool zero_init = false, std::int64_t padding = -1);
  torch::Tensor forward(const torch::Tensor& x, bool frozen = false);
  int dims;
  std::int64_t stride, padding;
  torch::Tensor weight, bias;
};
TORCH_MODULE(Conv);

// GroupNorm computed in fp32 whatever the input dtype: under CPU autocast LibTorch 1.13 fails on a
// bf16 input with fp32 affine parameters, and fp32 statistics are the accurate choice anyway.
// `groups` > 0: GroupNorm (Wu & He 2018). `groups` == 0: a per-position LayerNorm over channels (as
// in ConvNeXt, Liu et al. 2022), whose statistics are local, so a tile normalises exactly as the
// whole volume does. `frozen` normalises with detached affine parameters.
struct GroupNorm32Impl : torch::nn::Module {
  GroupNorm32Impl(std::int64_t groups, std::int64_t channels, double eps = 1e-5);
  torch::Tensor forward(const torch::Tensor& x, bool frozen = false);
  // SiLU(norm(x) · (1 + scale) + shift) through the fused kernel (group_norm_silu.hpp); scale and
  // shift [B, C, 1, ...] are optional.
  torch::Tensor silu(const torch::Tensor& x, const torch::Tensor& scale = {}, const torch::Tensor& shift = {});
  std::int64_t groups;
  double eps;
  torch::Tensor weight, bias;
};
TORCH_MODULE(GroupNorm32);

// LayerNorm over the last dimension, likewise in fp32.
torch::Tensor layer_norm32(const torch::Tensor& x, torch::nn::LayerNorm& norm);

// Sinusoidal features of a scalar per example (the noise level): [B] → [B, dim].
torch::Tensor sinusoidal_embedding(const torch::Tensor& values, std::int64_t dim, double max_period);

// Residual block with scale-shift conditioning on an embedding (Ho et al.; Dhariwal & Nichol).
struct ResBlockImpl : torch::nn::Module {
  ResBlockImpl(int dims, std::int64_t in, std::int64_t out, std::int64_t emb_dim, std::int64_t groups,
               double dropout);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& emb);
  GroupNorm32 norm1{nullptr}, norm2{nullptr};
  Conv conv1{nullptr}, conv2{nullptr}, skip{nullptr};
  torch::nn::Linear emb_proj{nullptr};
  double dropout;
};
TORCH_MODULE(ResBlock);

// Multi-head attention of query tokens over key/value tokens; `mask` [B, Tk] is true where a
// key is real (padding keys get no weight).
torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        std::int64_t heads, const torch::Tensor& mask);

// Self-attention over the spatial positions of a feature map, and optional cross-attention from
// them to context tokens; both residual. `eps` is that of the norms. Memory grows with the square
// of the number of positions: a 32³ map is a 32768² score matrix (4 GiB in fp32).
struct SpatialAttentionImpl : torch::nn::Module {
  SpatialAttentionImpl(std::int64_t channels, std::int64_t groups, std::int64_t heads, bool self_attention,
                       std::int64_t context_dim, double eps = 1e-5);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& context = {},
                        const torch::Tensor& context_mask = {});
  std::int64_t heads;
  GroupNorm32 norm{nullptr}, cross_norm{nullptr};
  torch::nn::Linear qkv{nullptr}, proj{nullptr}, q_cross{nullptr}, kv_cross{nullptr},
      proj_cross{nullptr};
};
TORCH_MODULE(SpatialAttention);

// A pre-norm transformer block over tokens [B, N, C] with the noise embedding added and optional
// cross-attention to context (the U-ViT bottleneck).
struct TransformerBlockImpl : torch::nn::Module {
  TransformerBlockImpl(std::int64_t channels, std::int64_t heads, std::int64_t emb_dim,
                       std::int64_t context_dim, double dropout);
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& emb,
                        const torch::Tensor& context, const torch::Tensor& context_mask);
  std::int64_t heads;
  double dropout;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr}, norm3{nullptr};
  torch::nn::Linear emb_proj{nullptr}, qkv{nullptr}, proj{nullptr}, q_cross{nullptr},
      kv_cross{nullptr}, proj_cross{nullptr}, mlp_in{nullptr}, mlp_out{nullptr};
};
TORCH_MODULE(TransformerBlock);

}  // namespace whatif::nn

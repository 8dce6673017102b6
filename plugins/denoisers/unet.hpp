#pragma once
// The U-Net denoiser of pixel- and latent-space diffusion (Ronneberger et al.; Ho et al.;
// Dhariwal & Nichol), in 2D or 3D: noise-level embedding, residual blocks with GroupNorm,
// self-attention at chosen levels, cross-attention on context tokens, FiLM-style conditioning on a
// vector, concatenated spatial conditions, dropout only at chosen (low-resolution) levels and an
// optionally deeper bottleneck (Simple Diffusion, Hoogeboom et al. 2023). With
// `transformer_blocks` > 0 the bottleneck is a stack of transformer blocks instead: the U-ViT
// (Bao et al. 2023; Simple Diffusion's U-ViT).
#include <whatif/denoiser.hpp>
#include <whatif/registry/options.hpp>

#include <whatif/nn/layers.hpp>

namespace whatif_denoisers {

using whatif::nn::Conv;
using whatif::nn::ConvImpl;
using whatif::nn::GroupNorm32;
using whatif::nn::ResBlock;
using whatif::nn::ResBlockImpl;
using whatif::nn::SpatialAttention;
using whatif::nn::SpatialAttentionImpl;
using whatif::nn::TransformerBlock;
using whatif::nn::TransformerBlockImpl;

struct UNetConfig {
  int spatial_dims = 3;
  std::int64_t in_channels = 1;
  std::int64_t out_channels = 1;
  std::vector<std::int64_t> channels{32, 64, 64};
  std::int64_t res_blocks = 1;
  std::vector<std::int64_t> attention_levels;        // self-attention
  std::vector<std::int64_t> cross_attention_levels;  // when context_dim > 0
  double dropout = 0.0;
  std::vector<std::int64_t> dropout_levels;  // levels where dropout applies
  std::int64_t bottleneck_blocks = 1;
  std::int64_t transformer_blocks = 0;  // > 0: U-ViT bottleneck
  std::int64_t context_dim = 0;
  std::int64_t vector_dim = 0;
  std::int64_t spatial_channels = 0;
  std::int64_t groups = 8;
  std::int64_t heads = 4;
  bool checkpointing = false;  // residual blocks recompute their activations in backward

  static UNetConfig from(const whatif::Options& o);
};

struct UNetImpl : torch::nn::Module {
  explicit UNetImpl(const UNetConfig& config);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& noise_level,
                        const whatif::Cond& cond);
  void check_condition(const whatif::Cond& cond) const;
  torch::Tensor run_res(ResBlockImpl* block, const torch::Tensor& h, const torch::Tensor& emb);

  UNetConfig config;
  std::int64_t emb_dim;
  torch::nn::Linear time1{nullptr}, time2{nullptr}, vector_proj{nullptr};
  Conv input{nullptr}, output{nullptr};
  GroupNorm32 out_norm{nullptr};
  // Per block: a residual block, optionally followed by attention. Down path, then middle, then up.
  torch::nn::ModuleList down_res, down_attn, down_sample, mid, up_res, up_attn, up_sample;
  std::vector<bool> down_has_attn, up_has_attn;
  bool reads_context = false;  // some level cross-attends to the context tokens
};
TORCH_MODULE(UNet);

class UNetDenoiser : public whatif::Denoiser {
 public:
  explicit UNetDenoiser(const UNetConfig& config);
  at::Tensor forward(const at::Tensor& x_t, const at::Tensor& noise_level,
                     const whatif::Cond& cond) override;
  std::int64_t spatial_dims() const override { return net_->config.spatial_dims; }
  std::int64_t in_channels() const override { return net_->config.in_channels; }
  std::int64_t out_channels() const override { return net_->config.out_channels; }
  whatif::NamedTensors named_parameters() override;
  whatif::NamedTensors named_buffers() override;
  void train(bool on) override { net_->train(on); }
  void to(const c10::Device& device) override { net_->to(device); }

 private:
  void warn_about_attention(const at::Tensor& x_t);
  UNet net_;
  bool attention_checked_ = false;
};

// Self-attention over more positions than this gets a warning (the first forward pass).
constexpr std::int64_t kAttentionTokenWarning = 2048;

}  // namespace whatif_denoisers

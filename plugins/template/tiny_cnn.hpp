#pragma once
// A denoiser in a few lines, built from whatif::nn's shared layers (a template for plugins that
// link whatif::nn): conv → GroupNorm-SiLU modulated by the noise level's sinusoidal embedding →
// zero-initialised conv, so an untrained network predicts 0.
#include <torch/torch.h>
#include <whatif/denoiser.hpp>
#include <whatif/nn/layers.hpp>

namespace whatif_template {

struct TinyCnnImpl : torch::nn::Module {
  TinyCnnImpl(int dims, std::int64_t channels, std::int64_t width);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& noise_level);
  std::int64_t width;
  whatif::nn::Conv conv_in{nullptr}, conv_out{nullptr};
  whatif::nn::GroupNorm32 norm{nullptr};
  torch::nn::Linear emb{nullptr};
};
TORCH_MODULE(TinyCnn);

class TinyCnnDenoiser : public whatif::Denoiser {
 public:
  TinyCnnDenoiser(int dims, std::int64_t channels, std::int64_t width);
  at::Tensor forward(const at::Tensor& x_t, const at::Tensor& noise_level, const whatif::Cond& cond) override;
  std::int64_t spatial_dims() const override { return dims_; }
  std::int64_t in_channels() const override { return channels_; }
  std::int64_t out_channels() const override { return channels_; }
  whatif::NamedTensors named_parameters() override;
  void train(bool on) override { net_->train(on); }
  void to(const c10::Device& device) override { net_->to(device); }

 private:
  int dims_;
  std::int64_t channels_;
  TinyCnn net_;
};

}  // namespace whatif_template

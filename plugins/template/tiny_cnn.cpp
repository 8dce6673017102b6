#include "tiny_cnn.hpp"

#include <whatif/registry/error.hpp>

namespace whatif_template {

TinyCnnImpl::TinyCnnImpl(int dims, std::int64_t channels, std::int64_t width) : width(width) {
  conv_in = register_module("conv_in", whatif::nn::Conv(dims, channels, width, 3));
  norm = register_module("norm", whatif::nn::GroupNorm32(std::min<std::int64_t>(8, width), width));
  emb = register_module("emb", torch::nn::Linear(width, 2 * width));
  conv_out = register_module("conv_out", whatif::nn::Conv(dims, width, channels, 3, 1, true));
}

torch::Tensor TinyCnnImpl::forward(const torch::Tensor& x, const torch::Tensor& noise_level) {
  const auto chunks = emb(whatif::nn::sinusoidal_embedding(noise_level, width, 100.0)).chunk(2, 1);
  return conv_out(norm->silu(conv_in(x), chunks[0], chunks[1]));
}

TinyCnnDenoiser::TinyCnnDenoiser(int dims, std::int64_t channels, std::int64_t width)
    : dims_(dims), channels_(channels), net_(dims, channels, width) {
  if (dims != 2 && dims != 3) throw whatif::Error("option 'spatial_dims' must be 2 or 3");
  if (channels < 1 || width < 1) throw whatif::Error("options 'channels' and 'width' must be >= 1");
}

at::Tensor TinyCnnDenoiser::forward(const at::Tensor& x_t, const at::Tensor& noise_level, const whatif::Cond&) {
  return net_->forward(x_t, noise_level);
}

whatif::NamedTensors TinyCnnDenoiser::named_parameters() {
  whatif::NamedTensors out;
  for (const auto& p : net_->named_parameters()) out.emplace_back(p.key(), p.value());
  return out;
}

}  // namespace whatif_template

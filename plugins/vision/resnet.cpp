#include "resnet.hpp"

#include <string>

#include <whatif/registry/error.hpp>

namespace whatif_vision {

void ResNetConfig::check() const {
  if (spatial_dims != 2 && spatial_dims != 3) throw whatif::Error("option 'spatial_dims' must be 2 or 3");
  if (in_channels < 1 || blocks < 0 || width < 1 || groups < 1)
    throw whatif::Error("options 'in_channels', 'width' and 'groups' must be >= 1, 'blocks' >= 0");
  if (channels.empty()) throw whatif::Error("option 'channels' needs at least one stage width");
  for (const auto c : channels)
    if (c < 1 || c % groups != 0)
      throw whatif::Error("option 'channels': every width must be positive and divisible by 'groups' (" +
                          std::to_string(groups) + "), got " + std::to_string(c));
  if (pooling != "mean" && pooling != "max" && pooling != "mean-max")
    throw whatif::Error("option 'pooling' must be mean, max or mean-max, got '" + pooling + "'");
}

PreActBlockImpl::PreActBlockImpl(int dims, std::int64_t channels, std::int64_t groups) {
  norm1 = register_module("norm1", whatif::nn::GroupNorm32(groups, channels));
  conv1 = register_module("conv1", whatif::nn::Conv(dims, channels, channels, 3));
  norm2 = register_module("norm2", whatif::nn::GroupNorm32(groups, channels));
  // Zero-initialised: each block starts as the identity (Goyal et al. 2017).
  conv2 = register_module("conv2", whatif::nn::Conv(dims, channels, channels, 3, 1, true));
}

torch::Tensor PreActBlockImpl::forward(const torch::Tensor& x) {
  return x + conv2(norm2->silu(conv1(norm1->silu(x))));
}

ResNetImpl::ResNetImpl(const ResNetConfig& c) : config(c) {
  config.check();
  const int dims = static_cast<int>(c.spatial_dims);
  stem = register_module("stem", whatif::nn::Conv(dims, c.in_channels, c.channels.front(), 3));
  stages = register_module("stages", torch::nn::ModuleList());
  for (std::size_t s = 0; s < c.channels.size(); ++s) {
    torch::nn::ModuleList stage;
    if (s > 0) stage->push_back(whatif::nn::Conv(dims, c.channels[s - 1], c.channels[s], 3, 2));
    for (std::int64_t b = 0; b < c.blocks; ++b) stage->push_back(PreActBlock(dims, c.channels[s], c.groups));
    stages->push_back(stage);
  }
  norm = register_module("norm", whatif::nn::GroupNorm32(c.groups, c.channels.back()));
  const std::int64_t pooled = c.pooling == "mean-max" ? 2 * c.channels.back() : c.channels.back();
  head = register_module("head", torch::nn::Linear(pooled, c.width));
}

void ResNetImpl::check_input(const torch::Tensor& x) const {
  check_images("vision/resnet", x, config.spatial_dims, config.in_channels);
}

namespace {

// One stage: its downsampling convolution (if any), then its blocks.
torch::Tensor run_stage(torch::nn::ModuleListImpl& stage, torch::Tensor h) {
  for (std::size_t i = 0; i < stage.size(); ++i) {
    if (auto* conv = stage[i]->as<whatif::nn::ConvImpl>())
      h = conv->forward(h);
    else
      h = stage[i]->as<PreActBlockImpl>()->forward(h);
  }
  return h;
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> ResNetImpl::last_and_first(const torch::Tensor& x) {
  torch::Tensor first, h = stem(x);
  for (std::size_t s = 0; s < stages->size(); ++s) {
    h = run_stage(*stages[s]->as<torch::nn::ModuleList>(), h);
    if (s == 0) first = h;
  }
  return {norm->silu(h), first};
}

torch::Tensor ResNetImpl::features(const torch::Tensor& x) { return last_and_first(x).first; }

torch::Tensor ResNetImpl::pool(const torch::Tensor& h) {
  std::vector<std::int64_t> spatial;
  for (std::int64_t d = 2; d < h.dim(); ++d) spatial.push_back(d);
  if (config.pooling == "mean") return head(h.mean(spatial));
  if (config.pooling == "max") return head(h.amax(spatial));
  return head(torch::cat({h.mean(spatial), h.amax(spatial)}, 1));
}

torch::Tensor ResNetImpl::forward(const torch::Tensor& x) { return pool(features(x)); }

std::pair<torch::Tensor, torch::Tensor> ResNetImpl::forward_with_map(const torch::Tensor& x) {
  auto [last, first] = last_and_first(x);
  return {pool(last), first};
}

}  // namespace whatif_vision

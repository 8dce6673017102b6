#include "vae_layers.hpp"

#include <whatif/nn/checkpoint.hpp>
#include <whatif/registry/error.hpp>

namespace whatif_encoders {

std::int64_t log2_exact(std::int64_t n) {
  std::int64_t k = 0;
  while ((std::int64_t{1} << k) < n) ++k;
  return (std::int64_t{1} << k) == n ? k : -1;
}

VaeResBlockImpl::VaeResBlockImpl(int dims, std::int64_t in, std::int64_t out, std::int64_t groups) {
  norm1 = register_module("norm1", vae_norm(groups, in));
  conv1 = register_module("conv1", vae_conv(dims, in, out, 3, 1, 1));
  norm2 = register_module("norm2", vae_norm(groups, out));
  conv2 = register_module("conv2", vae_conv(dims, out, out, 3, 1, 1));
  if (in != out) skip = register_module("skip", vae_conv(dims, in, out, 1, 1, 0));
}

torch::Tensor VaeResBlockImpl::forward(const torch::Tensor& x) {
  auto h = conv1(torch::silu(norm1(x)));
  h = conv2(torch::silu(norm2(h)));
  return (skip ? skip(x) : x) + h;
}

namespace {

// A residual block, recomputed in backward when `checkpointing`.
torch::Tensor run_res(VaeResBlockImpl* block, const torch::Tensor& h, bool checkpointing) {
  if (!checkpointing) return block->forward(h);
  return whatif::nn::checkpoint([block](const std::vector<at::Tensor>& in) { return block->forward(in[0]); }, {h});
}

torch::Tensor run_bottleneck(torch::nn::ModuleList& blocks, torch::Tensor h, bool checkpointing) {
  for (const auto& block : *blocks) {
    if (auto* res = block->as<VaeResBlockImpl>())
      h = run_res(res, h, checkpointing);
    else
      h = block->as<whatif::nn::SpatialAttentionImpl>()->forward(h);
  }
  return h;
}

}  // namespace

whatif::OptionSpec checkpointing_option() {
  return {"checkpointing", whatif::OptionType::Bool, false,
          "recompute each residual block in backward instead of keeping its activations (less memory, more time)"};
}

void VaeTrunk::build(torch::nn::Module& owner, const VaeTrunkShape& s) {
  shape = s;
  const int d = s.spatial_dims;
  const auto levels = static_cast<std::int64_t>(s.channels.size());
  auto bottleneck = [&](torch::nn::ModuleList& list, std::int64_t ch) {
    list->push_back(VaeResBlock(d, ch, ch, s.groups));
    if (s.attention) list->push_back(vae_attention(ch, s.groups));
    list->push_back(VaeResBlock(d, ch, ch, s.groups));
  };
  // Layers are made (and their weights drawn) in this order, and registered in the order below.
  enc_in = owner.register_module("enc_in", vae_conv(d, s.in_channels, s.channels.front(), 3, 1, 1));
  std::int64_t ch = s.channels.front();
  for (std::int64_t level = 0; level < levels; ++level) {
    for (std::int64_t i = 0; i < s.res_blocks; ++i) {
      enc_blocks->push_back(VaeResBlock(d, ch, s.channels[level], s.groups));
      ch = s.channels[level];
    }
    if (level + 1 < levels) enc_down->push_back(vae_conv(d, ch, ch, 3, 2, 1));
  }
  bottleneck(enc_mid, ch);
  enc_norm = owner.register_module("enc_norm", vae_norm(s.groups, ch));
  enc_out = owner.register_module("enc_out", vae_conv(d, ch, s.encoded_channels, 3, 1, 1));

  dec_in = owner.register_module("dec_in", vae_conv(d, s.latent_channels, ch, 3, 1, 1));
  bottleneck(dec_mid, ch);
  for (std::int64_t level = levels - 1; level >= 0; --level) {
    for (std::int64_t i = 0; i <= s.res_blocks; ++i) {
      dec_blocks->push_back(VaeResBlock(d, ch, s.channels[level], s.groups));
      ch = s.channels[level];
    }
    if (level > 0) dec_up->push_back(vae_conv(d, ch, ch, 3, 1, 1));
  }
  dec_norm = owner.register_module("dec_norm", vae_norm(s.groups, ch));
  dec_out = owner.register_module("dec_out", vae_conv(d, ch, s.in_channels, 3, 1, 1));

  owner.register_module("enc_blocks", enc_blocks);
  owner.register_module("enc_down", enc_down);
  owner.register_module("enc_mid", enc_mid);
  owner.register_module("dec_mid", dec_mid);
  owner.register_module("dec_blocks", dec_blocks);
  owner.register_module("dec_up", dec_up);
}

torch::Tensor VaeTrunk::encode(const torch::Tensor& x) {
  const auto levels = static_cast<std::int64_t>(shape.channels.size());
  auto h = enc_in(x);
  std::size_t block = 0;
  for (std::int64_t level = 0; level < levels; ++level) {
    for (std::int64_t i = 0; i < shape.res_blocks; ++i)
      h = run_res(enc_blocks[block++]->as<VaeResBlockImpl>(), h, shape.checkpointing);
    if (level + 1 < levels) h = enc_down[level]->as<whatif::nn::ConvImpl>()->forward(h);
  }
  return enc_out(torch::silu(enc_norm(run_bottleneck(enc_mid, h, shape.checkpointing))));
}

torch::Tensor VaeTrunk::decode(const torch::Tensor& z) {
  const auto levels = static_cast<std::int64_t>(shape.channels.size());
  auto h = run_bottleneck(dec_mid, dec_in(z), shape.checkpointing);
  std::size_t block = 0, up = 0;
  for (std::int64_t level = levels - 1; level >= 0; --level) {
    for (std::int64_t i = 0; i <= shape.res_blocks; ++i)
      h = run_res(dec_blocks[block++]->as<VaeResBlockImpl>(), h, shape.checkpointing);
    if (level > 0) {
      h = torch::nn::functional::interpolate(
          h, torch::nn::functional::InterpolateFuncOptions()
                 .scale_factor(std::vector<double>(shape.spatial_dims, 2.0))
                 .mode(torch::kNearest));
      h = dec_up[up++]->as<whatif::nn::ConvImpl>()->forward(h);
    }
  }
  return dec_out(torch::silu(dec_norm(h)));
}

void check_vae_input(const std::string& name, const VaeTrunkShape& shape, std::int64_t downsample,
                     const at::Tensor& x, const char* what) {
  const std::string layout = shape.spatial_dims == 3 ? "[B, C, D, H, W]" : "[B, C, H, W]";
  if (x.dim() != shape.spatial_dims + 2)
    throw whatif::Error(name + ": " + what + " expects a " + layout + " tensor, got " + std::to_string(x.dim()) +
                        " dimensions");
  if (x.size(1) != shape.in_channels)
    throw whatif::Error(name + ": " + what + " expects " + std::to_string(shape.in_channels) +
                        " channels (option 'in_channels'), got " + std::to_string(x.size(1)));
  for (std::int64_t d = 2; d < x.dim(); ++d)
    if (x.size(d) % downsample != 0)
      throw whatif::Error(name + ": spatial size " + std::to_string(x.size(d)) +
                          " is not divisible by 'downsample' = " + std::to_string(downsample));
}

std::vector<std::int64_t> vae_latent_shape(const std::string& name, const VaeTrunkShape& shape,
                                           std::int64_t downsample, std::int64_t latent_channels,
                                           const std::vector<std::int64_t>& input) {
  if (static_cast<std::int64_t>(input.size()) != shape.spatial_dims + 1 || input[0] != shape.in_channels)
    throw whatif::Error(name + ": latent_shape expects [" + std::to_string(shape.in_channels) + ", *spatial] with " +
                        std::to_string(shape.spatial_dims) + " spatial sizes");
  std::vector<std::int64_t> out{latent_channels};
  for (std::size_t i = 1; i < input.size(); ++i) {
    if (input[i] % downsample != 0)
      throw whatif::Error(name + ": spatial size " + std::to_string(input[i]) +
                          " is not divisible by 'downsample' = " + std::to_string(downsample));
    out.push_back(input[i] / downsample);
  }
  return out;
}

}  // namespace whatif_encoders

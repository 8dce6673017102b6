#include "unet.hpp"

#include <algorithm>

#include <whatif/nn/checkpoint.hpp>
#include <whatif/registry/error.hpp>
#include <whatif/registry/log.hpp>

namespace whatif_denoisers {
namespace {

bool has(const std::vector<std::int64_t>& levels, std::int64_t level) {
  return std::find(levels.begin(), levels.end(), level) != levels.end();
}

}  // namespace

UNetConfig UNetConfig::from(const whatif::Options& o) {
  UNetConfig c;
  c.spatial_dims = static_cast<int>(o.get_int("spatial_dims"));
  c.in_channels = o.get_int("in_channels");
  c.out_channels = o.get_int("out_channels");
  if (c.out_channels == 0) c.out_channels = c.in_channels;
  c.channels = o.get_ints("channels");
  c.res_blocks = o.get_int("res_blocks");
  c.attention_levels = o.get_ints("attention_levels");
  c.cross_attention_levels = o.get_ints("cross_attention_levels");
  c.dropout = o.get_double("dropout");
  c.dropout_levels = o.get_ints("dropout_levels");
  // The unet declares bottleneck_blocks, the uvit transformer_blocks.
  c.bottleneck_blocks = o.contains("bottleneck_blocks") ? o.get_int("bottleneck_blocks") : 0;
  c.transformer_blocks = o.contains("transformer_blocks") ? o.get_int("transformer_blocks") : 0;
  c.context_dim = o.get_int("context_dim");
  c.vector_dim = o.get_int("vector_dim");
  c.spatial_channels = o.get_int("spatial_channels");
  c.groups = o.get_int("groups");
  c.heads = o.get_int("heads");
  c.checkpointing = o.get_bool("checkpointing");
  const auto levels = static_cast<std::int64_t>(c.channels.size());
  if (c.spatial_dims != 2 && c.spatial_dims != 3)
    throw whatif::Error("option 'spatial_dims' must be 2 or 3");
  if (levels == 0) throw whatif::Error("option 'channels' needs at least one level");
  for (const auto ch : c.channels)
    if (ch <= 0 || ch % c.groups != 0 || ch % c.heads != 0)
      throw whatif::Error("option 'channels': every width must be positive and divisible by "
                          "'groups' (" + std::to_string(c.groups) + ") and 'heads' (" +
                          std::to_string(c.heads) + "), got " + std::to_string(ch));
  // Levels count from 0 (full size); negative ones from the lowest (-1).
  for (auto* list : {&c.attention_levels, &c.cross_attention_levels, &c.dropout_levels})
    for (auto& l : *list) {
      if (l < -levels || l >= levels)
        throw whatif::Error("level " + std::to_string(l) + " does not exist (levels are 0.." +
                            std::to_string(levels - 1) + ", or -1 for the lowest)");
      if (l < 0) l += levels;
    }
  if (c.dropout_levels.empty()) c.dropout_levels = {levels - 1};
  if (c.res_blocks < 1 || c.bottleneck_blocks < 0 || c.transformer_blocks < 0)
    throw whatif::Error("options 'res_blocks' >= 1, 'bottleneck_blocks' >= 0, 'transformer_blocks' >= 0");
  return c;
}

// A condition the network cannot read would train an unconditional model without a word: refuse
// it, and a width that does not match the options, with the option to set.
void UNetImpl::check_condition(const whatif::Cond& cond) const {
  const auto& c = config;
  auto width = [](const torch::Tensor& t) { return std::to_string(t.size(-1)); };
  if (cond.vector.defined() && vector_proj && cond.vector.size(-1) != c.vector_dim)
    throw whatif::Error("unet: the conditioning's vector has width " + width(cond.vector) +
                        " but option 'vector_dim' is " + std::to_string(c.vector_dim));
  if (cond.context.defined() && reads_context && cond.context.size(-1) != c.context_dim)
    throw whatif::Error("unet: the conditioning's context tokens have width " + width(cond.context) +
                        " but option 'context_dim' is " + std::to_string(c.context_dim));
  const bool given = cond.vector.defined() || cond.context.defined() || cond.spatial.defined();
  const bool read = (cond.vector.defined() && vector_proj) || (cond.context.defined() && reads_context) ||
                    (cond.spatial.defined() && c.spatial_channels > 0);
  if (given && !read) {
    std::string what;
    if (cond.vector.defined()) what += "a vector of width " + width(cond.vector);
    if (cond.context.defined())
      what += (what.empty() ? "" : " and ") + std::string("context tokens of width ") + width(cond.context);
    if (cond.spatial.defined()) what += (what.empty() ? "" : " and ") + std::string("a spatial map");
    throw whatif::Error("unet: the conditioning gives " + what +
                        " but this network reads none of it: set 'vector_dim', or 'context_dim' with "
                        "'cross_attention_levels', or 'spatial_channels' to match");
  }
}

UNetImpl::UNetImpl(const UNetConfig& c) : config(c), emb_dim(4 * c.channels.front()) {
  const int d = c.spatial_dims;
  const auto levels = static_cast<std::int64_t>(c.channels.size());
  time1 = register_module("time1", torch::nn::Linear(c.channels.front(), emb_dim));
  time2 = register_module("time2", torch::nn::Linear(emb_dim, emb_dim));
  if (c.vector_dim > 0) vector_proj = register_module("vector_proj", torch::nn::Linear(c.vector_dim, emb_dim));
  input = register_module("input", Conv(d, c.in_channels + c.spatial_channels, c.channels.front(), 3));

  auto block_attention = [&](std::int64_t level, std::int64_t ch) -> torch::nn::Module* {
    const bool self = has(c.attention_levels, level);
    const bool cross = c.context_dim > 0 && has(c.cross_attention_levels, level);
    if (!self && !cross) return nullptr;
    reads_context = reads_context || cross;
    return new SpatialAttentionImpl(ch, c.groups, c.heads, self, cross ? c.context_dim : 0);
  };
  auto drop = [&](std::int64_t level) { return has(c.dropout_levels, level) ? c.dropout : 0.0; };

  std::vector<std::int64_t> skips{c.channels.front()};
  std::int64_t ch = c.channels.front();
  for (std::int64_t level = 0; level < levels; ++level) {
    for (std::int64_t i = 0; i < c.res_blocks; ++i) {
      down_res->push_back(ResBlock(d, ch, c.channels[level], emb_dim, c.groups, drop(level)));
      ch = c.channels[level];
      if (auto* a = block_attention(level, ch)) {
        down_attn->push_back(std::shared_ptr<torch::nn::Module>(a));
        down_has_attn.push_back(true);
      } else {
        down_has_attn.push_back(false);
      }
      skips.push_back(ch);
    }
    if (level + 1 < levels) {
      down_sample->push_back(Conv(d, ch, ch, 3, 2));
      skips.push_back(ch);
    }
  }
  const std::int64_t bottom = levels - 1;
  if (c.transformer_blocks > 0) {
    reads_context = reads_context || (c.context_dim > 0 && has(c.cross_attention_levels, bottom));
    for (std::int64_t i = 0; i < c.transformer_blocks; ++i)
      mid->push_back(TransformerBlock(ch, c.heads, emb_dim,
                                      has(c.cross_attention_levels, bottom) ? c.context_dim : 0,
                                      drop(bottom)));
  } else {
    for (std::int64_t i = 0; i < c.bottleneck_blocks; ++i) {
      mid->push_back(ResBlock(d, ch, ch, emb_dim, c.groups, drop(bottom)));
      if (auto* a = block_attention(bottom, ch)) mid->push_back(std::shared_ptr<torch::nn::Module>(a));
    }
  }
  for (std::int64_t level = levels - 1; level >= 0; --level) {
    for (std::int64_t i = 0; i <= c.res_blocks; ++i) {
      const std::int64_t skip = skips.back();
      skips.pop_back();
      up_res->push_back(ResBlock(d, ch + skip, c.channels[level], emb_dim, c.groups, drop(level)));
      ch = c.channels[level];
      if (auto* a = block_attention(level, ch)) {
        up_attn->push_back(std::shared_ptr<torch::nn::Module>(a));
        up_has_attn.push_back(true);
      } else {
        up_has_attn.push_back(false);
      }
    }
    if (level > 0) up_sample->push_back(Conv(d, ch, ch, 3));
  }
  register_module("down_res", down_res);
  register_module("down_attn", down_attn);
  register_module("down_sample", down_sample);
  register_module("mid", mid);
  register_module("up_res", up_res);
  register_module("up_attn", up_attn);
  register_module("up_sample", up_sample);
  out_norm = register_module("out_norm", GroupNorm32(c.groups, ch));
  output = register_module("output", Conv(d, ch, c.out_channels, 3, 1, true));
}

torch::Tensor UNetImpl::run_res(ResBlockImpl* block, const torch::Tensor& h, const torch::Tensor& emb) {
  if (!config.checkpointing) return block->forward(h, emb);
  return whatif::nn::checkpoint([block](const std::vector<at::Tensor>& in) { return block->forward(in[0], in[1]); },
                                {h, emb});
}

torch::Tensor UNetImpl::forward(const torch::Tensor& x, const torch::Tensor& noise_level,
                                const whatif::Cond& cond) {
  const auto& c = config;
  const auto levels = static_cast<std::int64_t>(c.channels.size());
  const std::int64_t factor = std::int64_t{1} << (levels - 1);
  for (std::int64_t dim = 2; dim < x.dim(); ++dim)
    if (x.size(dim) % factor != 0)
      throw whatif::Error("unet: spatial size " + std::to_string(x.size(dim)) +
                          " is not divisible by 2^(levels-1) = " + std::to_string(factor));
  check_condition(cond);
  // λ spans about ±20: periods up to 100 resolve it without wasting frequencies.
  auto emb = time2(torch::silu(time1(whatif::nn::sinusoidal_embedding(noise_level, c.channels.front(), 100.0))));
  if (vector_proj && cond.vector.defined()) emb = emb + vector_proj(cond.vector.to(emb.scalar_type()));

  auto h = x;
  if (c.spatial_channels > 0) {
    auto spatial = cond.spatial.defined()
                       ? cond.spatial.to(x.scalar_type())
                       : torch::zeros_like(x.narrow(1, 0, 1)).expand(
                             [&] { auto s = x.sizes().vec(); s[1] = c.spatial_channels; return s; }());
    h = torch::cat({h, spatial}, 1);
  }
  h = input(h);
  std::vector<torch::Tensor> skips{h};
  std::size_t res = 0, attn = 0, sample = 0;
  for (std::int64_t level = 0; level < levels; ++level) {
    for (std::int64_t i = 0; i < c.res_blocks; ++i, ++res) {
      h = run_res(down_res[res]->as<ResBlockImpl>(), h, emb);
      if (down_has_attn[res])
        h = down_attn[attn++]->as<SpatialAttentionImpl>()->forward(h, cond.context, cond.context_mask);
      skips.push_back(h);
    }
    if (level + 1 < levels) {
      h = down_sample[sample++]->as<ConvImpl>()->forward(h);
      skips.push_back(h);
    }
  }
  if (c.transformer_blocks > 0) {
    auto tokens = h.flatten(2).transpose(1, 2);
    for (const auto& block : *mid)
      tokens = block->as<TransformerBlockImpl>()->forward(tokens, emb, cond.context, cond.context_mask);
    h = tokens.transpose(1, 2).reshape(h.sizes());
  } else {
    for (const auto& block : *mid) {
      if (auto* r = block->as<ResBlockImpl>())
        h = run_res(r, h, emb);
      else
        h = block->as<SpatialAttentionImpl>()->forward(h, cond.context, cond.context_mask);
    }
  }
  res = attn = sample = 0;
  for (std::int64_t level = levels - 1; level >= 0; --level) {
    for (std::int64_t i = 0; i <= c.res_blocks; ++i, ++res) {
      h = torch::cat({h, skips.back().to(h.scalar_type())}, 1);
      skips.pop_back();
      h = run_res(up_res[res]->as<ResBlockImpl>(), h, emb);
      if (up_has_attn[res])
        h = up_attn[attn++]->as<SpatialAttentionImpl>()->forward(h, cond.context, cond.context_mask);
    }
    if (level > 0) {
      h = torch::nn::functional::interpolate(
          h, torch::nn::functional::InterpolateFuncOptions()
                 .scale_factor(std::vector<double>(c.spatial_dims, 2.0))
                 .mode(torch::kNearest));
      h = up_sample[sample++]->as<ConvImpl>()->forward(h);
    }
  }
  return output(out_norm->silu(h));
}

UNetDenoiser::UNetDenoiser(const UNetConfig& config) : net_(config) {}

at::Tensor UNetDenoiser::forward(const at::Tensor& x_t, const at::Tensor& noise_level,
                                 const whatif::Cond& cond) {
  if (x_t.dim() != net_->config.spatial_dims + 2 || x_t.size(1) != net_->config.in_channels)
    throw whatif::Error("unet: expected input [B, " + std::to_string(net_->config.in_channels) +
                        (net_->config.spatial_dims == 3 ? ", D, H, W]" : ", H, W]") + ", got " +
                        c10::str(x_t.sizes()));
  if (!attention_checked_) warn_about_attention(x_t);
  return net_->forward(x_t, noise_level, cond);
}

// Self-attention costs O(N²) in the N positions of its level: above 2048 tokens a step takes
// seconds instead of a fraction of one (16³ = 4096 tokens on a CPU: about 80 s a step). Said once.
void UNetDenoiser::warn_about_attention(const at::Tensor& x_t) {
  attention_checked_ = true;
  const auto& c = net_->config;
  const std::int64_t levels = static_cast<std::int64_t>(c.channels.size());
  for (std::int64_t level = 0; level < levels; ++level) {
    if (!has(c.attention_levels, level)) continue;
    std::int64_t tokens = 1;
    for (std::int64_t d = 2; d < x_t.dim(); ++d) tokens *= std::max<std::int64_t>(1, x_t.size(d) >> level);
    if (tokens > kAttentionTokenWarning)
      whatif::warn("unet: self-attention at level " + std::to_string(level) + " runs over " + std::to_string(tokens) +
                   " positions (cost grows with their square); set attention_levels to a deeper level or {}");
  }
}

whatif::NamedTensors UNetDenoiser::named_parameters() { return whatif::nn::named_tensors(net_->named_parameters()); }
whatif::NamedTensors UNetDenoiser::named_buffers() { return whatif::nn::named_tensors(net_->named_buffers()); }

}  // namespace whatif_denoisers

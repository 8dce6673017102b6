#include "vit.hpp"

#include <cmath>
#include <string>

#include <whatif/registry/error.hpp>

namespace whatif_vision {

void ViTConfig::check() const {
  if (spatial_dims != 2 && spatial_dims != 3) throw whatif::Error("option 'spatial_dims' must be 2 or 3");
  if (in_channels < 1 || patch < 1 || layers < 0 || mlp_ratio < 1 || width < 1)
    throw whatif::Error("options 'in_channels', 'patch', 'mlp_ratio' and 'width' must be >= 1, 'layers' >= 0");
  if (heads < 1 || hidden < 2 * spatial_dims || hidden % heads != 0)
    throw whatif::Error("option 'hidden' (" + std::to_string(hidden) + ") must be a multiple of 'heads' (" +
                        std::to_string(heads) + ") and at least 2 x spatial_dims");
}

ViTBlockImpl::ViTBlockImpl(std::int64_t hidden, std::int64_t heads, std::int64_t mlp_ratio) : heads(heads) {
  norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})));
  qkv = register_module("qkv", torch::nn::Linear(hidden, 3 * hidden));
  proj = register_module("proj", torch::nn::Linear(hidden, hidden));
  norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})));
  mlp_in = register_module("mlp_in", torch::nn::Linear(hidden, mlp_ratio * hidden));
  mlp_out = register_module("mlp_out", torch::nn::Linear(mlp_ratio * hidden, hidden));
}

torch::Tensor ViTBlockImpl::forward(const torch::Tensor& x) {
  const auto q = qkv(whatif::nn::layer_norm32(x, norm1)).chunk(3, -1);
  auto h = x + proj(whatif::nn::attention(q[0], q[1], q[2], heads, {}));
  return h + mlp_out(torch::gelu(mlp_in(whatif::nn::layer_norm32(h, norm2))));
}

torch::Tensor grid_positions(const std::vector<std::int64_t>& grid, std::int64_t hidden) {
  const auto dims = static_cast<std::int64_t>(grid.size());
  const std::int64_t pairs = hidden / (2 * dims);  // sin/cos pairs per axis
  std::int64_t count = 1;
  for (const auto g : grid) count *= g;
  torch::Tensor out = torch::zeros({count, hidden});
  // Coordinates of every patch, row-major over the grid.
  std::vector<torch::Tensor> axes;
  for (const auto g : grid) axes.push_back(torch::arange(g, torch::kFloat));
  const auto mesh = torch::meshgrid(axes, "ij");
  const torch::Tensor frequencies =
      torch::exp(-std::log(10000.0) * torch::arange(pairs, torch::kFloat) / static_cast<double>(std::max<std::int64_t>(pairs, 1)));
  for (std::int64_t a = 0; a < dims; ++a) {
    const torch::Tensor angle = mesh[static_cast<std::size_t>(a)].reshape({count, 1}) * frequencies.unsqueeze(0);
    out.narrow(1, 2 * a * pairs, pairs).copy_(angle.sin());
    out.narrow(1, (2 * a + 1) * pairs, pairs).copy_(angle.cos());
  }
  return out;
}

ViTImpl::ViTImpl(const ViTConfig& c) : config(c) {
  config.check();
  patches = register_module("patches", whatif::nn::Conv(static_cast<int>(c.spatial_dims), c.in_channels, c.hidden,
                                                        c.patch, c.patch, false, 0));
  cls = register_parameter("cls", torch::randn({1, 1, c.hidden}) * 0.02);
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < c.layers; ++i) blocks->push_back(ViTBlock(c.hidden, c.heads, c.mlp_ratio));
  norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden})));
  head = register_module("head", torch::nn::Linear(c.hidden, c.width));
}

void ViTImpl::check_input(const torch::Tensor& x) const {
  check_images("vision/vit", x, config.spatial_dims, config.in_channels);
  for (std::int64_t d = 2; d < x.dim(); ++d)
    if (x.size(d) % config.patch != 0)
      throw whatif::Error("vision/vit: image size " + std::to_string(x.size(d)) + " is not a multiple of 'patch' (" +
                          std::to_string(config.patch) + ")");
}

torch::Tensor ViTImpl::forward(const torch::Tensor& x) {
  const torch::Tensor p = patches(x);  // [B, hidden, *grid]
  std::vector<std::int64_t> grid(p.sizes().begin() + 2, p.sizes().end());
  torch::Tensor tokens = p.flatten(2).transpose(1, 2);  // [B, N, hidden]
  tokens = tokens + grid_positions(grid, config.hidden).to(tokens.device(), tokens.scalar_type()).unsqueeze(0);
  tokens = torch::cat({cls.to(tokens.scalar_type()).expand({tokens.size(0), 1, config.hidden}), tokens}, 1);
  for (const auto& block : *blocks) tokens = block->as<ViTBlockImpl>()->forward(tokens);
  return head(whatif::nn::layer_norm32(tokens.select(1, 0), norm));
}

}  // namespace whatif_vision

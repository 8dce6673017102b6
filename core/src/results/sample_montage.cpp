#include "results/sample_montage.hpp"

#include <algorithm>
#include <cmath>

#include <ATen/ATen.h>

#include "whatif/data/volume.hpp"

namespace whatif {
namespace {

// The first example's first channel as a [H, W] slice: the axial mid-slice of a volume.
at::Tensor mid_slice(const at::Tensor& t) {
  at::Tensor x = t.to(at::kFloat);
  while (x.dim() > 3) x = x.select(0, 0);
  if (x.dim() == 3) x = x.select(0, x.size(0) / 2);
  return x;
}

}  // namespace

MontageLayout write_sample_montage(const std::string& path, const NamedTensors& samples, std::int64_t min_height) {
  std::vector<std::pair<std::string, at::Tensor>> shown;
  for (const auto& [name, t] : samples) {
    at::Tensor x = mid_slice(t);
    if (x.dim() == 2 && x.numel() > 0) shown.emplace_back(name, x);
  }
  MontageLayout layout;
  if (shown.empty()) return layout;

  // One intensity window for all samples, so equal grey means equal value across panels.
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& [name, x] : shown) {
    const at::Tensor finite = x.masked_select(at::isfinite(x));
    if (finite.numel() == 0) continue;
    lo = std::min(lo, finite.min().item<double>());
    hi = std::max(hi, finite.max().item<double>());
  }
  if (!std::isfinite(lo)) lo = 0, hi = 1;
  std::vector<std::pair<std::string, at::Tensor>> panels;
  for (const auto& [name, x] : shown)
    panels.emplace_back(name, ((at::nan_to_num(x, lo, hi, lo) - lo) / std::max(hi - lo, 1e-8)).clamp(0, 1));

  const auto& first = shown.front();
  const auto& last = shown.back();
  if (shown.size() >= 2 && first.second.sizes() == last.second.sizes()) {
    const at::Tensor d = at::nan_to_num(last.second - first.second, 0, 0, 0);
    const double scale = std::max(d.abs().max().item<double>(), 1e-8);
    panels.emplace_back("difference (" + last.first + " − " + first.first + ", ±" +
                            std::to_string(scale).substr(0, 6) + " = black/white)",
                        (0.5 + 0.5 * d / scale).clamp(0, 1));
  }

  std::int64_t height = 0;
  for (const auto& [name, x] : panels) height = std::max(height, x.size(0));
  // Nearest-neighbour enlargement to a readable height, by a whole factor (no invented detail).
  const std::int64_t factor = std::max<std::int64_t>(1, (min_height + height - 1) / height);
  std::vector<at::Tensor> tiles;
  for (const auto& [name, x] : panels) {
    const at::Tensor big = x.repeat_interleave(factor, 0).repeat_interleave(factor, 1);
    tiles.push_back(at::constant_pad_nd(big, {0, 0, 0, height * factor - big.size(0)}));
    tiles.push_back(at::ones({height * factor, 4}));  // a white gutter
    layout.panels.push_back(name);
  }
  tiles.pop_back();
  data::Volume v;
  v.voxels = at::cat(tiles, 1).contiguous();
  data::write_volume(v, path);
  layout.height = v.voxels.size(0);
  layout.width = v.voxels.size(1);
  return layout;
}

}  // namespace whatif

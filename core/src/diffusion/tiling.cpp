#include "diffusion/tiling.hpp"

#include <cmath>
#include <functional>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "whatif/registry/error.hpp"

namespace whatif {
namespace {

// Tile starts along one axis of length `size`: every `tile − overlap`, the last one flush with the
// end (so it may overlap its neighbour by more than `overlap`).
std::vector<std::int64_t> tile_starts(std::int64_t size, std::int64_t tile, std::int64_t overlap) {
  if (tile >= size) return {0};
  std::vector<std::int64_t> starts;
  for (std::int64_t s = 0; s + tile < size; s += tile - overlap) starts.push_back(s);
  starts.push_back(size - tile);
  return starts;
}

// Weights along one axis of a tile's output, `length` long. On a side that meets another tile, the
// `overlap` voxels there weigh 0 for the outer quarter, ramp up over the middle half and are 1 after:
// a voxel is then taken from tiles that see at least 3/8 of the overlap as context around it, where
// padding at the tile's border disturbs the output least. Where two tiles meet, their zero zones
// are covered by the other's ramp or full weight, so every voxel keeps a positive total weight.
at::Tensor axis_weights(std::int64_t length, std::int64_t overlap, bool left, bool right, TileBlend blend) {
  auto w = at::ones({length}, at::kDouble);
  if (overlap <= 0) return w;
  overlap = std::min(overlap, length);
  const std::int64_t ramp = std::max<std::int64_t>(1, overlap / 2), outer = (overlap - ramp) / 2;
  auto side = at::zeros({outer + ramp}, at::kDouble);
  const auto u = (at::arange(ramp, at::kDouble) + 0.5) / static_cast<double>(ramp);
  side.narrow(0, outer, ramp).copy_(blend == TileBlend::Linear ? u : at::sin(u * (M_PI / 2)).square());
  if (left) w.narrow(0, 0, outer + ramp).mul_(side);
  if (right) w.narrow(0, length - outer - ramp, outer + ramp).mul_(side.flip(0));
  return w;
}

using TileFn = std::function<at::Tensor(const at::Tensor&)>;

at::Tensor sliding_window(const at::Tensor& input, const Tiling& tiling, const TileFn& fn, const char* what) {
  if (input.dim() < 3)
    throw Error(std::string(what) + ": expected [B, C, *spatial], got " + std::to_string(input.dim()) +
                " dimensions");
  if (tiling.tile < 1 || tiling.overlap < 0 || tiling.overlap >= tiling.tile)
    throw Error(std::string(what) + ": need tile >= 1 and 0 <= overlap < tile, got tile " +
                std::to_string(tiling.tile) + ", overlap " + std::to_string(tiling.overlap));
  const std::int64_t dims = input.dim() - 2;
  std::vector<std::int64_t> tile(dims);
  std::vector<std::vector<std::int64_t>> starts(dims);
  std::int64_t count = 1;
  for (std::int64_t a = 0; a < dims; ++a) {
    tile[a] = std::min(tiling.tile, input.size(2 + a));
    starts[a] = tile_starts(input.size(2 + a), tile[a], tiling.overlap);
    count *= static_cast<std::int64_t>(starts[a].size());
  }

  at::Tensor sum, weight_sum;
  std::vector<std::int64_t> out_tile(dims);
  at::ScalarType out_type{};
  for (std::int64_t index = 0; index < count; ++index) {
    std::vector<std::int64_t> start(dims);
    for (std::int64_t a = dims - 1, rest = index; a >= 0; --a) {
      const auto n = static_cast<std::int64_t>(starts[a].size());
      start[a] = starts[a][rest % n];
      rest /= n;
    }
    at::Tensor piece = input;
    for (std::int64_t a = 0; a < dims; ++a) piece = piece.narrow(2 + a, start[a], tile[a]);
    const at::Tensor out = fn(piece.contiguous());
    if (out.dim() != input.dim())
      throw Error(std::string(what) + ": the encoder changed the number of dimensions");
    if (!sum.defined()) {
      // The first tile fixes the output size per tile, hence the scale between input and output.
      std::vector<std::int64_t> shape{out.size(0), out.size(1)};
      for (std::int64_t a = 0; a < dims; ++a) {
        out_tile[a] = out.size(2 + a);
        const std::int64_t full = input.size(2 + a) * out_tile[a];
        if (full % tile[a] != 0)
          throw Error(std::string(what) + ": a tile of " + std::to_string(tile[a]) + " maps to " +
                      std::to_string(out_tile[a]) + ", which does not scale to the whole size " +
                      std::to_string(input.size(2 + a)));
        shape.push_back(full / tile[a]);
      }
      out_type = out.scalar_type();
      sum = at::zeros(shape, out.options().dtype(at::kDouble));
      weight_sum = at::zeros(std::vector<std::int64_t>(shape.begin() + 2, shape.end()), sum.options());
    }
    at::Tensor weight = at::ones({}, sum.options());
    at::Tensor sum_view = sum, weight_view = weight_sum;
    for (std::int64_t a = 0; a < dims; ++a) {
      if (out.size(2 + a) != out_tile[a])
        throw Error(std::string(what) + ": tiles of the same size gave outputs of different sizes");
      if ((start[a] * out_tile[a]) % tile[a] != 0)
        throw Error(std::string(what) + ": tile start " + std::to_string(start[a]) +
                    " falls between output voxels; make tile and overlap multiples of the encoder's "
                    "scale factor");
      const std::int64_t out_start = start[a] * out_tile[a] / tile[a];
      const std::int64_t out_overlap = tiling.overlap * out_tile[a] / tile[a];
      const bool left = start[a] > 0, right = start[a] + tile[a] < input.size(2 + a);
      std::vector<std::int64_t> shape(dims, 1);
      shape[a] = out_tile[a];
      weight = weight * axis_weights(out_tile[a], out_overlap, left, right, tiling.blend).view(shape);
      sum_view = sum_view.narrow(2 + a, out_start, out_tile[a]);
      weight_view = weight_view.narrow(a, out_start, out_tile[a]);
    }
    sum_view.add_(out.to(at::kDouble) * weight);
    weight_view.add_(weight);
  }
  return (sum / weight_sum).to(out_type);
}

}  // namespace

at::Tensor tiled_decode(Encoder& encoder, const at::Tensor& z, const Tiling& tiling) {
  c10::InferenceMode inference;
  return sliding_window(z, tiling, [&](const at::Tensor& t) { return encoder.decode(t); }, "tiled_decode");
}

at::Tensor tiled_encode(Encoder& encoder, const at::Tensor& x, const Tiling& tiling) {
  c10::InferenceMode inference;
  return sliding_window(x, tiling, [&](const at::Tensor& t) { return encoder.encode(t); }, "tiled_encode");
}

}  // namespace whatif

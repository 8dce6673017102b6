// Tiled encoding and decoding: exact for the identity, equal to float rounding for haar (whose
// convolution kernels may sum in a different order for a tile than for the whole volume, depending
// on the CPU's oneDNN path), and
// within a measured tolerance of the whole-volume pass for a kl-vae, whose receptive field and
// GroupNorm statistics reach across tile borders.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include "diffusion/tiling.hpp"
#include "support/plugins.hpp"
#include "whatif/encoder.hpp"

using whatif::Encoder;
using whatif::TileBlend;
using whatif::Tiling;
using whatif::test::make;

namespace {
WHATIF_TEST_PLUGINS("encoders");
}  // namespace

namespace {
// Haar is local to its 2^d blocks, so tiles agree with the whole pass up to the summation order of
// the convolution: a few float ulps. A seam or a misplaced tile would differ by O(1).
bool same(const torch::Tensor& a, const torch::Tensor& b) {
  return a.sizes() == b.sizes() && (a - b).abs().max().item<double>() <= 1e-5;
}
}  // namespace

CATCH_TEST_CASE("tiled identity equals and tiled haar matches the whole-volume pass") {
  torch::manual_seed(0);
  const auto identity = make<Encoder>("encoder", "identity");
  const auto haar3 = make<Encoder>("encoder", "haar", {"spatial_dims=3"});
  const auto haar2 = make<Encoder>("encoder", "haar", {"spatial_dims=2"});
  // Sizes that leave an irregular last tile, tiles larger than an axis, and both blends.
  const auto x3 = torch::randn({2, 3, 20, 12, 30});
  const auto x2 = torch::randn({1, 2, 22, 36});
  for (const auto blend : {TileBlend::Linear, TileBlend::Cosine}) {
    for (const auto& [tile, overlap] : std::vector<std::pair<std::int64_t, std::int64_t>>{{8, 2}, {6, 4}, {16, 0}}) {
      CATCH_INFO("tile " << tile << " overlap " << overlap);
      const Tiling tiling{tile, overlap, blend};
      CATCH_REQUIRE(whatif::tiled_decode(*identity, x3, tiling).equal(x3));
      const auto z3 = haar3->encode(x3);
      CATCH_REQUIRE(same(whatif::tiled_decode(*haar3, z3, tiling), haar3->decode(z3)));
      CATCH_REQUIRE(same(whatif::tiled_encode(*haar3, x3, tiling), z3));
      const auto z2 = haar2->encode(x2);
      CATCH_REQUIRE(same(whatif::tiled_decode(*haar2, z2, tiling), haar2->decode(z2)));
      CATCH_REQUIRE(same(whatif::tiled_encode(*haar2, x2, tiling), z2));
    }
  }
}

CATCH_TEST_CASE("tiling refuses bad tiles and starts between output voxels") {
  const auto haar = make<Encoder>("encoder", "haar", {"spatial_dims=2"});
  const auto x = torch::randn({1, 1, 16, 16});
  CATCH_REQUIRE_THROWS_WITH(whatif::tiled_encode(*haar, x, Tiling{4, 4}), Catch::Contains("overlap < tile"));
  // Tiles of 6 with overlap 3 start at 0, 3, …: odd starts fall between haar's 2×2 blocks.
  CATCH_REQUIRE_THROWS_WITH(whatif::tiled_encode(*haar, x, Tiling{6, 3}), Catch::Contains("multiples"));
}

namespace {

// A bright ellipse (ellipsoid) with a darker core on a dark background, n voxels per side: tiles
// see different content, some only background.
torch::Tensor phantom(int dims, std::int64_t n) {
  const auto g = (torch::arange(n, torch::kFloat) + 0.5) / n - 0.5;
  const std::vector<double> radii{0.4, 0.3, 0.35};
  auto r2 = torch::zeros({});
  for (int a = 0; a < dims; ++a) {
    std::vector<std::int64_t> shape(dims, 1);
    shape[a] = n;
    r2 = r2 + (g / radii[a]).square().view(shape);
  }
  std::vector<std::int64_t> shape{1, 1};
  for (int a = 0; a < dims; ++a) shape.push_back(n);
  return (torch::sigmoid(20 * (1 - r2)) - 0.5 * torch::sigmoid(20 * (0.3 - r2))).view(shape);
}

struct Gap {
  double mean, max;  // |tiled − whole|, relative to the std of the whole-volume result
};

Gap gap(const torch::Tensor& tiled, const torch::Tensor& whole) {
  const auto err = (tiled - whole).abs();
  const double sd = whole.std().item<double>();
  return {err.mean().item<double>() / sd, err.max().item<double>() / sd};
}

}  // namespace

// The decoder's receptive field is about 12 latent voxels in radius (9 convolutions at latent
// resolution, then 6 at 2× and 4×), so every tile border is felt; overlap blending hides most of
// it. groups=0 (per-voxel channel norm) keeps normalisation local; with GroupNorm each tile would
// also normalise with its own statistics.
CATCH_TEST_CASE("tiled kl-vae decoding approaches the whole-volume pass as the overlap grows") {
  torch::manual_seed(1);
  const auto vae = make<Encoder>("encoder", "kl-vae", {"spatial_dims=2", "channels=8,16,16", "groups=0"});
  vae->train(false);
  torch::InferenceMode inference;
  const auto z = vae->encode(phantom(2, 256));  // 64² latents
  const auto whole = vae->decode(z);
  std::vector<Gap> gaps;
  for (const std::int64_t overlap : {8, 16, 24}) {
    gaps.push_back(gap(whatif::tiled_decode(*vae, z, Tiling{32, overlap}), whole));
    CATCH_WARN("2D tile 32, overlap " << overlap << ": mean " << gaps.back().mean << ", max " << gaps.back().max);
  }
  CATCH_REQUIRE(gaps[1].mean < gaps[0].mean);
  CATCH_REQUIRE(gaps[2].mean < gaps[1].mean);
  // Measured with seed 1: mean 8.5e-4, max 0.045 of the std.
  CATCH_REQUIRE(gaps[2].mean < 0.005);
  CATCH_REQUIRE(gaps[2].max < 0.15);
  const auto linear = gap(whatif::tiled_decode(*vae, z, Tiling{32, 24, TileBlend::Linear}), whole);
  CATCH_WARN("2D tile 32, overlap 24, linear: mean " << linear.mean << ", max " << linear.max);
  CATCH_REQUIRE(linear.mean < 0.01);

  const auto x3 = phantom(3, 64);
  const auto vae3 = make<Encoder>("encoder", "kl-vae",
                                  {"spatial_dims=3", "downsample=2", "channels=8,8", "groups=0"});
  vae3->train(false);
  const auto z3 = vae3->encode(x3);  // 32³ latents
  const auto decoded = gap(whatif::tiled_decode(*vae3, z3, Tiling{24, 16}), vae3->decode(z3));
  const auto encoded = gap(whatif::tiled_encode(*vae3, x3, Tiling{48, 32}), z3);
  CATCH_WARN("3D 64³, decode tile 24/16: mean " << decoded.mean << ", max " << decoded.max
             << "; encode tile 48/32: mean " << encoded.mean << ", max " << encoded.max);
  // GroupNorm normalises each tile with its own statistics, which no overlap removes.
  const auto grouped = make<Encoder>("encoder", "kl-vae", {"spatial_dims=3", "downsample=2", "channels=8,8"});
  grouped->train(false);
  const auto zg = grouped->encode(x3);
  const auto grouped_gap = gap(whatif::tiled_decode(*grouped, zg, Tiling{24, 16}), grouped->decode(zg));
  CATCH_WARN("3D 64³ with GroupNorm, decode tile 24/16: mean " << grouped_gap.mean << ", max " << grouped_gap.max);
  CATCH_REQUIRE(grouped_gap.mean > decoded.mean);
  // Measured with seed 1: decode mean 0.0083, max 0.46; encode mean 0.0017, max 0.064 of the std.
  CATCH_REQUIRE(decoded.mean < 0.03);
  CATCH_REQUIRE(decoded.max < 1.0);
  CATCH_REQUIRE(encoded.mean < 0.01);
  CATCH_REQUIRE(encoded.max < 0.2);
}

#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include "whatif/data/preprocess.hpp"

using namespace whatif::data;

namespace {

// f(p) = 2x − y + 0.5z + 3 of the physical LPS point: linear, so linear interpolation and
// symmetric smoothing reproduce it exactly away from the borders.
double ramp(const std::array<double, 3>& p) { return 2 * p[0] - p[1] + 0.5 * p[2] + 3; }

Volume ramp_volume(const Geometry& g, std::int64_t d, std::int64_t h, std::int64_t w) {
  Volume v{at::empty({d, h, w}, at::kFloat), g};
  auto a = v.voxels.accessor<float, 3>();
  for (std::int64_t k = 0; k < d; ++k)
    for (std::int64_t j = 0; j < h; ++j)
      for (std::int64_t i = 0; i < w; ++i) a[k][j][i] = static_cast<float>(ramp(g.index_to_point({double(i), double(j), double(k)})));
  return v;
}

// Every voxel at least `border` voxels inside holds f of its physical point.
void require_ramp(const Volume& v, std::int64_t border, double tolerance) {
  auto a = v.voxels.accessor<float, 3>();
  std::int64_t checked = 0;
  for (std::int64_t k = border; k < v.voxels.size(0) - border; ++k)
    for (std::int64_t j = border; j < v.voxels.size(1) - border; ++j)
      for (std::int64_t i = border; i < v.voxels.size(2) - border; ++i, ++checked)
        CATCH_REQUIRE(a[k][j][i] == Approx(ramp(v.geometry.index_to_point({double(i), double(j), double(k)}))).margin(tolerance));
  CATCH_REQUIRE(checked > 0);
}

Geometry lps_identity() {
  Geometry g;
  g.spacing = {2.0, 2.0, 3.0};
  g.origin = {-10, -8, 5};
  return g;
}

}  // namespace

CATCH_TEST_CASE("reorienting to RAS keeps every voxel at its physical point") {
  Geometry g = lps_identity();
  g.direction = {0, 1, 0, 0, 0, -1, -1, 0, 0};  // axes permuted and flipped
  const Volume v = ramp_volume(g, 4, 5, 6);
  const Volume r = reorient_ras(v);
  const std::array<double, 9> ras{-1, 0, 0, 0, -1, 0, 0, 0, 1};
  for (int i = 0; i < 9; ++i) CATCH_REQUIRE(r.geometry.direction[i] == Approx(ras[i]));
  require_ramp(r, 0, 1e-3);
  CATCH_REQUIRE(r.voxels.numel() == v.voxels.numel());
}

CATCH_TEST_CASE("linear resampling of a ramp phantom gives the ramp on the new grid") {
  const Volume v = ramp_volume(lps_identity(), 10, 12, 14);
  Geometry target = lps_identity();
  target.spacing = {1.0, 1.5, 1.0};
  target.origin = {-7.5, -4.0, 9.5};
  const Volume out = resample_to_grid(v, target, {16, 12, 12}, Interpolation::Linear);  // inside the source
  require_ramp(out, 0, 1e-3);
}

CATCH_TEST_CASE("downsampling smooths but keeps a ramp in the interior, nearest keeps labels") {
  const Volume v = ramp_volume(lps_identity(), 24, 24, 24);
  const Volume coarse = resample_to_spacing(v, {6.0, 6.0, 6.0}, Interpolation::Linear);
  CATCH_REQUIRE(coarse.voxels.sizes() == at::IntArrayRef({12, 8, 8}));
  require_ramp(coarse, 2, 5e-2);  // the recursive Gaussian approximates a true one to ~1e-3
  // Nearest neighbour never invents a value: labels stay in the source's label set.
  Volume labels{(at::arange(24 * 24 * 24, at::kFloat).view({24, 24, 24}).remainder(5)), lps_identity()};
  const Volume coarse_labels = resample_to_spacing(labels, {5.0, 5.0, 5.0}, Interpolation::Nearest);
  CATCH_REQUIRE(at::equal(coarse_labels.voxels, coarse_labels.voxels.round()));
  CATCH_REQUIRE(coarse_labels.voxels.max().item<float>() <= 4.0f);
}

CATCH_TEST_CASE("crop and pad keep the anatomy where it was") {
  const Volume v = ramp_volume(lps_identity(), 6, 9, 10);
  const Volume out = crop_or_pad(v, {6, 12, 4}, -1000.0f);  // x cropped, y padded, z cropped
  CATCH_REQUIRE(out.voxels.sizes() == at::IntArrayRef({4, 12, 6}));
  auto a = out.voxels.accessor<float, 3>();
  int padded = 0;
  for (std::int64_t k = 0; k < 4; ++k)
    for (std::int64_t j = 0; j < 12; ++j)
      for (std::int64_t i = 0; i < 6; ++i) {
        if (a[k][j][i] == -1000.0f) {
          ++padded;
          continue;
        }
        CATCH_REQUIRE(a[k][j][i] == Approx(ramp(out.geometry.index_to_point({double(i), double(j), double(k)}))).margin(1e-3));
      }
  CATCH_REQUIRE(padded == 4 * 3 * 6);  // 12 − 9 rows of padding
}

CATCH_TEST_CASE("percentile and window normalisation") {
  Volume v{at::arange(0, 101, at::kFloat).view({1, 1, 101}), {}};
  const auto [lo, hi] = normalize_percentile(v, 10, 90);
  CATCH_REQUIRE(lo == 10.0);
  CATCH_REQUIRE(hi == 90.0);
  CATCH_REQUIRE(at::allclose(v.voxels, ((at::arange(0, 101, at::kFloat) - 10) / 80).clamp(0, 1).view({1, 1, 101})));
  Volume ct{at::tensor({-1000.f, -160.f, 40.f, 240.f, 3000.f}).view({1, 1, 5}), {}};
  normalize_window(ct, -160, 240);  // a soft-tissue window
  CATCH_REQUIRE(at::allclose(ct.voxels, at::tensor({0.f, 0.f, 0.5f, 1.f, 1.f}).view({1, 1, 5})));
}

CATCH_TEST_CASE("preprocess records what it did") {
  const Volume v = ramp_volume(lps_identity(), 10, 12, 14);
  std::map<std::string, double> record;
  PreprocessOptions options;
  options.size = {8, 8, 8};
  const Volume out = preprocess(v, options, record);
  CATCH_REQUIRE(out.voxels.sizes() == at::IntArrayRef({8, 8, 8}));
  CATCH_REQUIRE(record.at("source_spacing_z") == 3.0);
  CATCH_REQUIRE(record.at("source_size_x") == 14.0);
  CATCH_REQUIRE(record.at("spacing") == Approx(30.0 / 8));  // the largest extent, 10 × 3 mm, fits 8 voxels
  CATCH_REQUIRE(record.count("norm_low") == 1);
  CATCH_REQUIRE(out.voxels.min().item<float>() >= 0.0f);
  CATCH_REQUIRE(out.voxels.max().item<float>() <= 1.0f);
}

CATCH_TEST_CASE("preprocess fits a per-axis grid, or keeps the source grid") {
  const Volume v = ramp_volume(lps_identity(), 10, 12, 14);  // extents x 28, y 24, z 30 mm
  std::map<std::string, double> record;
  PreprocessOptions options;
  options.size = {7, 6, 5};
  const Volume fitted = preprocess(v, options, record);
  // The isotropic spacing that fits every axis: max(28/7, 24/6, 30/5) = 6 mm.
  CATCH_REQUIRE(record.at("spacing") == Approx(6.0));
  CATCH_REQUIRE(fitted.voxels.sizes() == at::IntArrayRef({5, 6, 7}));
  CATCH_REQUIRE(fitted.geometry.spacing[0] == Approx(6.0));

  std::map<std::string, double> kept_record;
  PreprocessOptions keep;
  keep.normalize = "none";
  const Volume kept = preprocess(v, keep, kept_record);
  CATCH_REQUIRE(kept.voxels.sizes() == v.voxels.sizes());
  CATCH_REQUIRE(kept_record.count("spacing") == 0);
  CATCH_REQUIRE(kept.geometry.spacing == v.geometry.spacing);
  // Reoriented only: the same voxels, flipped along x and y (LPS → RAS).
  CATCH_REQUIRE(at::equal(kept.voxels, v.voxels.flip({1, 2})));
}

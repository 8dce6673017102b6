#include <catch2/catch.hpp>

#include <cmath>

#include <ATen/ATen.h>

#include "whatif/data/chest_measures.hpp"
#include "whatif/data/synthetic_chest.hpp"

using namespace whatif::data;

namespace {

// A lung-filled box inside a bony wall (so the lung is enclosed air), LPS-aligned voxels
// of 2 mm with index i running toward the patient's right as in the synthetic chest.
Geometry box_geometry() {
  Geometry g;
  g.spacing = {2, 2, 2};
  g.direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};
  return g;
}

at::Tensor lung_box() {
  at::Tensor hu = at::full({40, 40, 40}, 400.0f);
  hu.slice(0, 3, 37).slice(1, 3, 37).slice(2, 3, 37).fill_(-850.0f);
  return hu;
}

}  // namespace

CATCH_TEST_CASE("chest change measure: a fluid block in the right lung, voxel for voxel") {
  const at::Tensor source = lung_box();
  at::Tensor target = source.clone();
  const std::int64_t n = 8;
  target.slice(0, 10, 10 + n).slice(1, 10, 10 + n).slice(2, 25, 25 + n).fill_(15.0f);  // i > 20: right
  const double expected = std::pow(n, 3) * 0.008;  // 2 mm voxels
  ChestChange c = chest_change(source, target, box_geometry());
  CATCH_REQUIRE(c.effusion_ml[0] == Approx(expected));
  CATCH_REQUIRE(c.effusion_ml[1] == 0);
  CATCH_REQUIRE(c.consolidation_ml == 0);
  c = chest_change(target, source, box_geometry());  // resolving is negative
  CATCH_REQUIRE(c.effusion_ml[0] == Approx(-expected));
  // The same block at 35 HU: dense, under 10 ml (4.1 ml), so a nodule; with a fat half (a heart
  // growing into the lung) it is not counted.
  target.slice(0, 10, 10 + n).slice(1, 10, 10 + n).slice(2, 25, 25 + n).fill_(35.0f);
  c = chest_change(source, target, box_geometry());
  CATCH_REQUIRE(c.effusion_ml[0] == 0);
  CATCH_REQUIRE(c.nodule_ml == Approx(expected));
  target.slice(0, 10, 10 + n).slice(1, 10, 10 + n).slice(2, 25, 25 + n / 2).fill_(-100.0f);
  c = chest_change(source, target, box_geometry());
  CATCH_REQUIRE(c.nodule_ml == 0);
  CATCH_REQUIRE(c.effusion_ml[0] == 0);

  // LAA-950: a quarter of the box's lung at -980 HU.
  at::Tensor emphysema = source.clone();
  emphysema.slice(0, 3, 37).slice(1, 3, 37).slice(2, 3, 20).fill_(-980.0f);
  CATCH_REQUIRE(emphysema_percent(emphysema) == Approx(100.0 * 17 / 34));
}

CATCH_TEST_CASE("chest effect measures on real twins: stated errors after calibration") {
  ChestOptions o;
  o.size = 64;  // at 32³–48³ the heart's edges are too coarse for the ratio (docs/data.md)
  o.seed = 2;
  const SyntheticChest chest(o);
  const std::int64_t subjects = 24;
  std::vector<std::vector<ChestScan>> scans;
  for (std::int64_t s = 0; s < subjects; ++s) scans.push_back(chest.subject(s));
  const auto T = chest.timepoints();
  const auto result = calibrate_chest_measures(SyntheticChest::pairs(subjects, T), [&](std::int64_t i) {
    return scans[static_cast<std::size_t>(i / T)][static_cast<std::size_t>(i % T)].example;
  });
  for (const auto& [k, v] : result) CATCH_INFO(k << " = " << v);
  CATCH_REQUIRE(result.at("pairs") == subjects * (T - 1));
  CATCH_REQUIRE(result.at("effusion_ml_correlation") > 0.98);
  CATCH_REQUIRE(result.at("effusion_ml_error") < 0.15 * result.at("effusion_ml_truth"));
  CATCH_REQUIRE(result.at("emphysema_percent_correlation") > 0.98);
  CATCH_REQUIRE(result.at("emphysema_percent_error") < 1.0);
  CATCH_REQUIRE(result.at("consolidation_ml_correlation") > 0.9);
  CATCH_REQUIRE(result.at("ctr_correlation") > 0.5);
  CATCH_REQUIRE(result.at("ctr_error") < 0.03);
}

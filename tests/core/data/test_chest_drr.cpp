#include <catch2/catch.hpp>

#include <cmath>

#include <ATen/ATen.h>

#include "whatif/data/drr.hpp"
#include "whatif/registry/error.hpp"

using namespace whatif::data;

CATCH_TEST_CASE("DRR of a uniform slab equals the closed-form Beer–Lambert line integral") {
  // 20 voxels of 2 mm at +200 HU between air: p = mu_water (1 + 200/1000) * 40 mm.
  at::Tensor hu = at::full({12, 50, 16}, -1000.0f);
  hu.slice(1, 10, 30).fill_(200.0f);
  DrrOptions o;
  o.photons = 0;  // noiseless; the detector blur stays on and must keep a uniform field uniform
  const at::Tensor p = drr_projection(hu, 2.0, o);
  CATCH_REQUIRE(p.sizes() == at::IntArrayRef({12, 16}));
  const double expected = 0.02059 * 1.2 * 40.0;
  CATCH_REQUIRE(p.min().item<double>() == Approx(expected).epsilon(1e-6));
  CATCH_REQUIRE(p.max().item<double>() == Approx(expected).epsilon(1e-6));

  // Two materials on one ray add their line integrals; the other rays are untouched.
  hu.index_put_({3, at::indexing::Slice(30, 40), 5}, 1000.0f);
  const at::Tensor sharp = drr_projection(hu, 2.0, [] { DrrOptions d; d.photons = 0; d.blur_sigma_px = 0; return d; }());
  CATCH_REQUIRE(sharp[3][5].item<double>() == Approx(expected + 0.02059 * 2.0 * 20.0).epsilon(1e-6));
  CATCH_REQUIRE(sharp[3][6].item<double>() == Approx(expected).epsilon(1e-6));
  // The blur spreads transmitted intensity and keeps its total (the bone ray sits away from edges).
  const at::Tensor blurred = drr_projection(hu, 2.0, o);
  CATCH_REQUIRE(at::exp(-blurred).sum().item<double>() == Approx(at::exp(-sharp).sum().item<double>()).epsilon(1e-6));
  CATCH_REQUIRE(blurred[3][5].item<double>() < sharp[3][5].item<double>());
  CATCH_REQUIRE(blurred[3][6].item<double>() > sharp[3][6].item<double>());

  CATCH_REQUIRE_THROWS_AS(drr_projection(at::zeros({4, 4}), 1.0, o), whatif::Error);
}

CATCH_TEST_CASE("DRR quantum noise has the Poisson variance 1 / (I0 exp(-p))") {
  at::Tensor hu = at::zeros({200, 25, 200});  // water, 25 x 2 mm: p = 1.0295
  DrrOptions o;
  o.photons = 1e4;
  o.blur_sigma_px = 0;
  o.seed = 5;
  const at::Tensor p = drr_projection(hu, 2.0, o).to(at::kDouble);
  const double mean_p = 0.02059 * 50.0;
  const double counts = 1e4 * std::exp(-mean_p);
  const double sd = 1 / std::sqrt(counts);
  const double n = static_cast<double>(p.numel());
  CATCH_REQUIRE(p.std().item<double>() == Approx(sd).epsilon(0.03));
  // E[-ln(N / I0)] = p + 1 / (2 N) to second order.
  CATCH_REQUIRE(std::abs(p.mean().item<double>() - (mean_p + 0.5 / counts)) < 4 * sd / std::sqrt(n));
  o.seed = 6;
  CATCH_REQUIRE(!at::equal(drr_projection(hu, 2.0, o), p.to(at::kFloat)));
}

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include <ATen/ATen.h>

#include "support/plugins.hpp"
#include "whatif/metric.hpp"

using whatif::Metric;
using whatif::MetricItem;
using whatif::test::make;

namespace {

WHATIF_TEST_PLUGINS("metrics");

// The deterministic pair of tests/plugins/metrics/make_fixtures.py, [1, 1, *shape] in float64:
// x = 1 + 0.8 sin(0.7i + 0.3j + 0.5k) + 0.1 cos(0.2ij), y = x + 0.15 sin(1.9i − 1.3j + 0.7k + 0.5)
// − 0.05, with (i, j) the last two axes and k the first of a 3D shape.
std::pair<at::Tensor, at::Tensor> fixture_pair(std::vector<std::int64_t> shape) {
  std::vector<at::Tensor> axes;
  for (auto n : shape) axes.push_back(at::arange(n, at::kDouble));
  const auto grid = at::meshgrid(axes, "ij");
  const at::Tensor k = shape.size() == 3 ? grid[0] : at::zeros_like(grid[0]);
  const at::Tensor& i = grid[grid.size() - 2];
  const at::Tensor& j = grid[grid.size() - 1];
  const at::Tensor x = 1 + 0.8 * at::sin(0.7 * i + 0.3 * j + 0.5 * k) + 0.1 * at::cos(0.2 * i * j);
  const at::Tensor y = x + 0.15 * at::sin(1.9 * i - 1.3 * j + 0.7 * k + 0.5) - 0.05;
  return {x.unsqueeze(0).unsqueeze(0), y.unsqueeze(0).unsqueeze(0)};
}

// A smooth image: a few slow sinusoids over every spatial axis.
at::Tensor smooth(std::vector<std::int64_t> shape) {
  at::Tensor x = at::zeros(shape, at::kDouble);
  for (std::size_t axis = 2; axis < shape.size(); ++axis) {
    std::vector<std::int64_t> view(shape.size(), 1);
    view[axis] = shape[axis];
    x = x + at::sin(at::arange(shape[axis], at::kDouble) * (0.2 + 0.1 * axis)).view(view);
  }
  return x / static_cast<double>(shape.size() - 2);
}

// +1 / −1 alternating over the last axis: its square is exactly 1 everywhere.
at::Tensor checkerboard(std::vector<std::int64_t> shape) {
  const auto w = shape.back();
  return (at::arange(w, at::kDouble).remainder(2) * 2 - 1).expand(shape).contiguous();
}

double value(Metric& metric, const MetricItem& item, const std::string& key) {
  metric.reset();
  metric.update(item);
  return metric.compute().at(key);
}

MetricItem pair_item(const at::Tensor& generated, const at::Tensor& reference) {
  MetricItem item;
  item.generated = generated;
  item.reference = reference;
  return item;
}

}  // namespace

CATCH_TEST_CASE("psnr: 10·log10(R²/MSE) at a known noise level, per-example values averaged") {
  const auto psnr = make<Metric>("metric", "psnr", {"data_range=2"});
  at::manual_seed(0);
  const at::Tensor x = at::rand({2, 1, 8, 8}, at::kDouble);
  // Noise of exactly ±0.1 in the first example and ±0.05 in the second: MSE 0.01 and 0.0025.
  const at::Tensor sigma = at::tensor({0.1, 0.05}, at::kDouble).view({2, 1, 1, 1});
  psnr->update(pair_item(x + sigma * checkerboard({2, 1, 8, 8}), x));
  const double expected = (10 * std::log10(4 / 0.01) + 10 * std::log10(4 / 0.0025)) / 2;
  CATCH_REQUIRE(psnr->compute().at("psnr") == Approx(expected).epsilon(1e-12));

  // 3D, a second update joins the mean as a third example; data_range changes R².
  const auto psnr1 = make<Metric>("metric", "psnr", {"data_range=1"});
  const at::Tensor v = at::rand({1, 2, 4, 4, 6}, at::kDouble);
  psnr1->update(pair_item(v + 0.2 * checkerboard({1, 2, 4, 4, 6}), v));
  psnr1->update(pair_item(v + 0.1 * checkerboard({1, 2, 4, 4, 6}), v));
  CATCH_REQUIRE(psnr1->compute().at("psnr") ==
                Approx((10 * std::log10(1 / 0.04) + 10 * std::log10(1 / 0.01)) / 2).epsilon(1e-12));
  psnr1->reset();
  CATCH_REQUIRE_THROWS_WITH(psnr1->compute(), Catch::Contains("call update"));
  CATCH_REQUIRE(value(*psnr1, pair_item(v, v), "psnr") == std::numeric_limits<double>::infinity());
  CATCH_REQUIRE_THROWS_WITH(psnr1->update(pair_item(v, at::Tensor())),
                            Catch::Contains("item.reference"));
  CATCH_REQUIRE_THROWS_WITH(psnr1->update(pair_item(v, v.narrow(2, 0, 3))),
                            Catch::Contains("one shape"));
}

CATCH_TEST_CASE("ssim, ms-ssim and diversity of identical inputs are exactly 1, in 2D and 3D") {
  const auto ssim = make<Metric>("metric", "ssim");
  const auto ms_ssim = make<Metric>("metric", "ms-ssim");
  const auto diversity = make<Metric>("metric", "diversity");
  at::manual_seed(1);
  for (const auto& shape :
       {std::vector<std::int64_t>{2, 2, 48, 40}, std::vector<std::int64_t>{2, 1, 20, 16, 18}}) {
    const at::Tensor x = at::rand(shape) * 2 - 1;
    CATCH_REQUIRE(value(*ssim, pair_item(x, x.clone()), "ssim") == 1.0);
    CATCH_REQUIRE(value(*ms_ssim, pair_item(x, x.clone()), "ms_ssim") == 1.0);
    MetricItem samples;
    auto three = shape;
    three[0] = 3;
    samples.generated = x.narrow(0, 0, 1).expand(three).contiguous();
    CATCH_REQUIRE(value(*diversity, samples, "diversity_ms_ssim") == 1.0);
  }
}

CATCH_TEST_CASE("ssim, ms-ssim and psnr match scikit-image 0.19.3 and a NumPy MS-SSIM") {
  // Numbers from tests/plugins/metrics/make_fixtures.py: skimage.metrics.structural_similarity(
  // x, y, data_range=2, gaussian_weights=True, sigma=1.5, use_sample_covariance=False) and
  // peak_signal_noise_ratio; MS-SSIM from Wang et al. 2003 written out in NumPy/SciPy, with the
  // scale rule of docs/metrics.md (3 scales for 40×36, 2 for 20×18×22, coarsest windows 9 taps).
  const auto ssim = make<Metric>("metric", "ssim", {"data_range=2"});
  const auto ms_ssim = make<Metric>("metric", "ms-ssim", {"data_range=2"});
  const auto psnr = make<Metric>("metric", "psnr", {"data_range=2"});
  const auto [x2, y2] = fixture_pair({23, 19});
  CATCH_REQUIRE(value(*ssim, pair_item(x2, y2), "ssim") ==
                Approx(0.97463326313893994).epsilon(1e-12));
  CATCH_REQUIRE(value(*psnr, pair_item(x2, y2), "psnr") ==
                Approx(24.638641689513079).epsilon(1e-12));
  const auto [x3, y3] = fixture_pair({13, 12, 14});
  CATCH_REQUIRE(value(*ssim, pair_item(x3, y3), "ssim") ==
                Approx(0.97998178185986229).epsilon(1e-12));
  CATCH_REQUIRE(value(*psnr, pair_item(x3, y3), "psnr") ==
                Approx(24.639339497259392).epsilon(1e-12));
  const auto [a2, b2] = fixture_pair({40, 36});
  CATCH_REQUIRE(value(*ms_ssim, pair_item(a2, b2), "ms_ssim") ==
                Approx(0.99567377197519769).epsilon(1e-12));
  const auto [a3, b3] = fixture_pair({20, 18, 22});
  CATCH_REQUIRE(value(*ms_ssim, pair_item(a3, b3), "ms_ssim") ==
                Approx(0.99264695297870753).epsilon(1e-12));
  // Float32 inputs are promoted, so they agree to float32 rounding of the inputs.
  CATCH_REQUIRE(value(*ssim, pair_item(x2.to(at::kFloat), y2.to(at::kFloat)), "ssim") ==
                Approx(0.97463326313893994).epsilon(1e-6));
}

CATCH_TEST_CASE("ms-ssim: one scale below 16 samples per side, where it is plain SSIM") {
  const auto ssim = make<Metric>("metric", "ssim");
  const auto ms_ssim = make<Metric>("metric", "ms-ssim");
  at::manual_seed(2);
  const at::Tensor x = at::rand({2, 1, 15, 9, 12}, at::kDouble);
  const at::Tensor y = x + 0.1 * at::randn_like(x);
  CATCH_REQUIRE(value(*ms_ssim, pair_item(x, y), "ms_ssim") ==
                Approx(value(*ssim, pair_item(x, y), "ssim")).epsilon(1e-12));
}

CATCH_TEST_CASE("ms-ssim decreases monotonically as noise grows, in 2D and 3D") {
  const auto ms_ssim = make<Metric>("metric", "ms-ssim");
  at::manual_seed(3);
  for (const auto& shape :
       {std::vector<std::int64_t>{1, 1, 64, 64}, std::vector<std::int64_t>{1, 1, 32, 32, 32}}) {
    const at::Tensor x = smooth(shape);
    const at::Tensor noise = at::randn_like(x);
    double previous = 1.0;
    CATCH_REQUIRE(value(*ms_ssim, pair_item(x + 0 * noise, x), "ms_ssim") == previous);
    for (double sigma : {0.02, 0.05, 0.1, 0.2, 0.4, 0.8}) {
      const double current = value(*ms_ssim, pair_item(x + sigma * noise, x), "ms_ssim");
      CATCH_REQUIRE(current < previous);
      previous = current;
    }
    CATCH_REQUIRE(previous < 0.9);
  }
}

CATCH_TEST_CASE("diversity: the mean over every pair within an item, and over items") {
  const auto diversity = make<Metric>("metric", "diversity");
  const auto ms_ssim = make<Metric>("metric", "ms-ssim");
  at::manual_seed(4);
  const at::Tensor base = smooth({1, 1, 32, 32});
  const at::Tensor samples = base + 0.1 * at::randn({3, 1, 32, 32}, at::kDouble);
  const at::Tensor more = base + 0.3 * at::randn({2, 1, 32, 32}, at::kDouble);
  auto pair = [&](const at::Tensor& s, int i, int j) {
    return value(*ms_ssim, pair_item(s.narrow(0, i, 1), s.narrow(0, j, 1)), "ms_ssim");
  };
  const double expected =
      (pair(samples, 0, 1) + pair(samples, 0, 2) + pair(samples, 1, 2) + pair(more, 0, 1)) / 4;
  MetricItem item;
  item.generated = samples;
  diversity->update(item);
  item.generated = more;
  diversity->update(item);
  item.generated = samples.narrow(0, 0, 1);  // one sample: no pair, no contribution
  diversity->update(item);
  CATCH_REQUIRE(diversity->compute().at("diversity_ms_ssim") == Approx(expected).epsilon(1e-12));
  CATCH_REQUIRE(expected < 1.0);
  diversity->reset();
  diversity->update(item);
  CATCH_REQUIRE_THROWS_WITH(diversity->compute(), Catch::Contains("two or more samples"));
}

CATCH_TEST_CASE("subject-preservation: to the source always, to the twin when given") {
  const auto preservation = make<Metric>("metric", "subject-preservation", {"data_range=2"});
  const auto ms_ssim = make<Metric>("metric", "ms-ssim", {"data_range=2"});
  at::manual_seed(5);
  const at::Tensor source = smooth({2, 1, 16, 16, 16});
  const at::Tensor counterfactual = source + 0.1 * checkerboard({2, 1, 16, 16, 16});
  MetricItem item;
  item.generated = counterfactual;
  item.source = source;
  auto out = (preservation->update(item), preservation->compute());
  CATCH_REQUIRE(out.size() == 2);
  CATCH_REQUIRE(out.at("source_psnr") == Approx(10 * std::log10(4 / 0.01)).epsilon(1e-12));
  CATCH_REQUIRE(
      out.at("source_ms_ssim") ==
      Approx(value(*ms_ssim, pair_item(counterfactual, source), "ms_ssim")).epsilon(1e-12));
  item.reference = counterfactual.clone();  // a perfect counterfactual equals its twin
  preservation->update(item);
  out = preservation->compute();
  CATCH_REQUIRE(out.at("twin_ms_ssim") == 1.0);
  CATCH_REQUIRE(out.at("twin_psnr") == std::numeric_limits<double>::infinity());
  CATCH_REQUIRE(out.at("source_psnr") == Approx(10 * std::log10(4 / 0.01)).epsilon(1e-12));
  item.source = at::Tensor();
  CATCH_REQUIRE_THROWS_WITH(preservation->update(item), Catch::Contains("item.source"));
  CATCH_REQUIRE_THROWS_WITH(make<Metric>("metric", "subject-preservation", {"data_range=0"}),
                            Catch::Contains("data_range"));
}

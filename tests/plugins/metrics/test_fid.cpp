#include <torch/script.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>

#include <ATen/ATen.h>

#include "metrics/frechet.hpp"
#include "support/plugins.hpp"
#include "whatif/metric.hpp"

using whatif::Metric;
using whatif::MetricItem;
using whatif::test::make;
using whatif_metrics::frechet_distance;

namespace {

WHATIF_TEST_PLUGINS("metrics");

at::Tensor random_rotation(std::int64_t n) {
  return std::get<0>(at::linalg_qr(at::randn({n, n}, at::kDouble)));
}

// Four points m ± a·e1, m ± b·e2 in the plane: mean m, unbiased covariance diag(2a², 2b²)/3.
at::Tensor cross(double m1, double m2, double a, double b) {
  return at::tensor({m1 + a, m2, m1 - a, m2, m1, m2 + b, m1, m2 - b}, at::kDouble).view({4, 2});
}

}  // namespace

CATCH_TEST_CASE("frechet distance of Gaussians with commuting covariances: Σ(√λ1 − √λ2)²") {
  const at::Tensor mu1 = at::tensor({1.0, 2.0, 3.0}, at::kDouble);
  const at::Tensor mu2 = at::tensor({0.0, 2.0, 5.0}, at::kDouble);
  const at::Tensor d1 = at::tensor({1.0, 4.0, 9.0}, at::kDouble);
  const at::Tensor d2 = at::tensor({4.0, 1.0, 16.0}, at::kDouble);
  // ||μ1 − μ2||² = 5; Tr(Σ1 + Σ2 − 2(Σ1Σ2)^½) = (1 − 2)² + (2 − 1)² + (3 − 4)² = 3.
  CATCH_REQUIRE(frechet_distance(mu1, at::diag(d1), mu2, at::diag(d2)) ==
                Approx(8.0).epsilon(1e-12));
  // The same pair seen in a rotated basis: the distance does not depend on the basis.
  at::manual_seed(6);
  const at::Tensor q = random_rotation(3);
  const at::Tensor s1 = q.matmul(at::diag(d1)).matmul(q.t());
  const at::Tensor s2 = q.matmul(at::diag(d2)).matmul(q.t());
  CATCH_REQUIRE(frechet_distance(q.matmul(mu1), s1, q.matmul(mu2), s2) ==
                Approx(8.0).epsilon(1e-10));
  // Identical Gaussians with a singular covariance (rank 2 in 5 dimensions) are at distance 0.
  const at::Tensor a = at::randn({5, 2}, at::kDouble);
  const at::Tensor singular = a.matmul(a.t());
  const at::Tensor mu = at::randn({5}, at::kDouble);
  CATCH_REQUIRE(std::abs(frechet_distance(mu, singular, mu, singular)) < 1e-6);
}

CATCH_TEST_CASE("frechet distance of non-commuting 2×2 covariances matches the closed form") {
  // For a 2×2 matrix M with positive eigenvalues, Tr(M^½) = √(Tr M + 2√det M); with M = Σ1Σ2 this
  // gives the trace term without any eigendecomposition.
  at::manual_seed(7);
  for (int trial = 0; trial < 5; ++trial) {
    const at::Tensor a = at::randn({2, 2}, at::kDouble);
    const at::Tensor b = at::randn({2, 2}, at::kDouble);
    const at::Tensor s1 = a.matmul(a.t()) + 0.1 * at::eye(2, at::kDouble);
    const at::Tensor s2 = b.matmul(b.t()) + 0.1 * at::eye(2, at::kDouble);
    const at::Tensor mu1 = at::randn({2}, at::kDouble);
    const at::Tensor mu2 = at::randn({2}, at::kDouble);
    const at::Tensor m = s1.matmul(s2);
    const double trace_sqrt =
        std::sqrt(m.trace().item<double>() + 2 * std::sqrt(at::det(m).item<double>()));
    const double expected = (mu1 - mu2).square().sum().item<double>() + s1.trace().item<double>() +
                            s2.trace().item<double>() - 2 * trace_sqrt;
    CATCH_REQUIRE(frechet_distance(mu1, s1, mu2, s2) == Approx(expected).epsilon(1e-10));
  }
}

CATCH_TEST_CASE("fid with a TorchScript extractor: exact Gaussian fits of known point sets") {
  const auto folder =
      std::filesystem::temp_directory_path() / ("whatif-fid-" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  const std::string path = (folder / "flatten.pt").string();
  torch::jit::Module flatten("Flatten");
  flatten.define("def forward(self, x):\n    return x.flatten(1)\n");
  flatten.save(path);

  const auto fid = make<Metric>("metric", "fid", {"extractor=" + path});
  // Volumes [4, 1, 1, 1, 2] whose two voxels are the features. Reference: mean (1, 2),
  // Σ = diag(2, 8)/3 (a = 1, b = 2); generated: mean (0, 4), Σ = diag(8, 2)/3.
  MetricItem reference, generated;
  reference.reference = cross(1, 2, 1, 2).view({4, 1, 1, 1, 2});
  generated.generated = cross(0, 4, 2, 1).view({4, 1, 1, 1, 2});
  fid->update(reference);
  fid->update(generated);
  // ||Δμ||² = 1 + 4; trace term Σ(√λ1 − √λ2)² = 2·(√(8/3) − √(2/3))² = 2·(2/3) = 4/3.
  CATCH_REQUIRE(fid->compute().at("fid") == Approx(5.0 + 4.0 / 3.0).epsilon(1e-10));
  fid->reset();
  fid->update(generated);
  CATCH_REQUIRE_THROWS_WITH(fid->compute(), Catch::Contains("two generated and two reference"));
  std::filesystem::remove_all(folder);
  CATCH_REQUIRE_THROWS_WITH(make<Metric>("metric", "fid", {"extractor=" + path}),
                            Catch::Contains("no TorchScript module"));
}

CATCH_TEST_CASE("fid with the default pyramid features: zero for one set, larger for blur") {
  const auto fid = make<Metric>("metric", "fid");
  at::manual_seed(8);
  for (const auto& shape :
       {std::vector<std::int64_t>{32, 1, 32, 32}, std::vector<std::int64_t>{32, 1, 16, 16, 16}}) {
    const bool volume = shape.size() == 5;
    auto draw = [&] { return at::rand(shape, at::kDouble) * 2 - 1; };
    auto blur = [&](const at::Tensor& x) {
      return volume ? at::avg_pool3d(x, 3, 1, 1, true, false)
                    : at::avg_pool2d(x, 3, 1, 1, true, false);
    };
    const at::Tensor real = draw();
    MetricItem same;
    same.generated = real;
    same.reference = real.clone();
    fid->reset();
    fid->update(same);
    // Fewer examples than features: both covariances are singular, and still the distance is 0.
    CATCH_REQUIRE(std::abs(fid->compute().at("fid")) < 1e-6);

    MetricItem fresh;
    fresh.generated = draw();
    fresh.reference = real;
    const double fresh_fid = (fid->reset(), fid->update(fresh), fid->compute().at("fid"));
    MetricItem blurred;
    blurred.generated = blur(draw());
    blurred.reference = real;
    const double blurred_fid = (fid->reset(), fid->update(blurred), fid->compute().at("fid"));
    CATCH_REQUIRE(fresh_fid > 0);
    CATCH_REQUIRE(blurred_fid > 3 * fresh_fid);
  }
}

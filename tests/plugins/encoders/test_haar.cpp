#include <catch2/catch.hpp>

#include <ATen/ATen.h>

#include "support/plugins.hpp"
#include "whatif/encoder.hpp"

using whatif::Encoder;
using whatif::test::make;

namespace {
WHATIF_TEST_PLUGINS("encoders");
}  // namespace

CATCH_TEST_CASE("haar is exactly invertible and orthonormal in 2D and 3D") {
  for (const int dims : {2, 3}) {
    const auto haar = make<Encoder>("encoder", "haar", {"spatial_dims=" + std::to_string(dims)});
    std::vector<std::int64_t> shape{2, 3};
    for (int d = 0; d < dims; ++d) shape.push_back(8);
    at::manual_seed(0);
    const at::Tensor x = at::randn(shape);
    const at::Tensor z = haar->encode(x);
    CATCH_REQUIRE(z.size(1) == 3 * (1 << dims));
    CATCH_REQUIRE(z.size(2) == 4);
    const std::vector<std::int64_t> input(shape.begin() + 1, shape.end());
    CATCH_REQUIRE(haar->latent_shape(input) ==
                  std::vector<std::int64_t>(z.sizes().begin() + 1, z.sizes().end()));
    CATCH_REQUIRE((haar->decode(z) - x).abs().max().item<float>() < 1e-5f);
    // Orthonormal: energy is preserved.
    CATCH_REQUIRE(std::abs(z.square().sum().item<double>() - x.square().sum().item<double>()) <
                  1e-3 * x.square().sum().item<double>());
  }
}

CATCH_TEST_CASE("haar coefficients of a 2x2 block match the closed form") {
  const auto haar = make<Encoder>("encoder", "haar", {"spatial_dims=2"});
  // One block [[a, b], [c, d]] → low (a+b+c+d)/2, then the three detail bands.
  const at::Tensor x = at::tensor({1.0f, 2.0f, 3.0f, 5.0f}).view({1, 1, 2, 2});
  const at::Tensor z = haar->encode(x).flatten();
  CATCH_REQUIRE(z[0].item<float>() == Approx((1 + 2 + 3 + 5) / 2.0));
  CATCH_REQUIRE(z[1].item<float>() == Approx((1 - 2 + 3 - 5) / 2.0));  // horizontal detail
  CATCH_REQUIRE(z[2].item<float>() == Approx((1 + 2 - 3 - 5) / 2.0));  // vertical detail
  CATCH_REQUIRE(z[3].item<float>() == Approx((1 - 2 - 3 + 5) / 2.0));  // diagonal detail
  // A constant volume has energy only in the lowpass band.
  const auto haar3 = make<Encoder>("encoder", "haar", {"spatial_dims=3"});
  const at::Tensor c = haar3->encode(at::full({1, 1, 4, 4, 4}, 2.0f));
  CATCH_REQUIRE(at::allclose(c.select(1, 0), at::full({1, 2, 2, 2}, 2.0f * std::sqrt(8.0f))));
  CATCH_REQUIRE(c.narrow(1, 1, 7).abs().max().item<float>() < 1e-6f);
}

CATCH_TEST_CASE("identity is the identity; haar refuses odd sizes") {
  const auto identity = make<Encoder>("encoder", "identity");
  const at::Tensor x = at::randn({1, 1, 4, 4});
  CATCH_REQUIRE(identity->encode(x).equal(x));
  CATCH_REQUIRE(identity->latent_shape({1, 4, 4}) == std::vector<std::int64_t>{1, 4, 4});
  const auto haar = make<Encoder>("encoder", "haar", {"spatial_dims=2"});
  CATCH_REQUIRE_THROWS_WITH(haar->encode(at::randn({1, 1, 5, 4})), Catch::Contains("even"));
}

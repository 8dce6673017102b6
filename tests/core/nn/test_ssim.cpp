// whatif::nn SSIM and MS-SSIM against closed forms: constant images, identical inputs, noise.
// (The metrics plugin's tests compare the same functions with a fixture from another tool.)
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include "whatif/nn/ssim.hpp"

CATCH_TEST_CASE("SSIM matches its closed form on constants; MS-SSIM is 1 on identical inputs and falls with noise") {
  // Constant images a and b: σ = 0, so SSIM is the luminance term (2ab + C1) / (a² + b² + C1).
  const double a = 0.3, b = 0.7, c1 = 1e-4;
  const auto s = whatif::nn::ssim(torch::full({2, 1, 16, 16}, a), torch::full({2, 1, 16, 16}, b), 1.0);
  CATCH_REQUIRE(s[0].item<double>() == Approx((2 * a * b + c1) / (a * a + b * b + c1)).epsilon(1e-5));
  torch::manual_seed(7);
  const auto x = torch::rand({2, 1, 24, 24, 24});
  CATCH_REQUIRE(whatif::nn::ssim(x, x, 1.0).min().item<double>() == Approx(1.0).epsilon(1e-5));
  CATCH_REQUIRE(whatif::nn::ms_ssim(x, x, 1.0, 2, 1e-6).min().item<double>() == Approx(1.0).epsilon(1e-5));
  const double slight = whatif::nn::ms_ssim(x, x + 0.05 * torch::randn_like(x), 1.0, 2, 1e-6).mean().item<double>();
  const double strong = whatif::nn::ms_ssim(x, x + 0.3 * torch::randn_like(x), 1.0, 2, 1e-6).mean().item<double>();
  CATCH_REQUIRE(slight < 1.0);
  CATCH_REQUIRE(strong < slight);
}


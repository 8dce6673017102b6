#include <catch2/catch.hpp>

#include <cmath>

#include <ATen/ATen.h>

#include "whatif/registry/error.hpp"
#include "whatif/registry/registry.hpp"
#include "whatif/denoiser.hpp"
#include "whatif/schedule.hpp"

namespace {

std::shared_ptr<whatif::Schedule> make(whatif::Registry& registry, double snr) {
  whatif::Options options;
  options.set("snr", snr);
  return registry.create_as<whatif::Schedule>("schedule", "constant-snr", options);
}

}  // namespace

CATCH_TEST_CASE("constant-snr: λ = log snr everywhere, α² = snr/(1+snr), α² + σ² = 1") {
  whatif::Registry registry;
  registry.load(std::string(WHATIF_PLUGIN_DIR) + "/libwhatif-plugin-template.so");
  const double snr = 4.0;
  const auto schedule = make(registry, snr);
  const at::Tensor t = at::linspace(0, 1, 11, at::kDouble);
  const at::Tensor lambda = schedule->logsnr(t);
  CATCH_REQUIRE(lambda.sizes() == t.sizes());
  CATCH_REQUIRE(at::allclose(lambda, at::full_like(t, std::log(snr))));
  const auto [alpha, sigma] = schedule->alpha_sigma(t);
  CATCH_REQUIRE(at::allclose(alpha.square(), at::full_like(t, snr / (1 + snr))));
  CATCH_REQUIRE(at::allclose(alpha.square() + sigma.square(), at::ones_like(t)));
  CATCH_REQUIRE(at::allclose(alpha.square() / sigma.square(), at::full_like(t, snr)));
}

CATCH_TEST_CASE("constant-snr refuses a non-positive snr and has no inverse") {
  whatif::Registry registry;
  registry.load(std::string(WHATIF_PLUGIN_DIR) + "/libwhatif-plugin-template.so");
  CATCH_REQUIRE_THROWS_WITH(make(registry, -1.0),
                            Catch::Contains("plugin 'template'") &&
                                Catch::Contains("'snr' must be a positive number"));
  const auto schedule = make(registry, 2.0);
  CATCH_REQUIRE_THROWS_AS(schedule->time(at::zeros({3}, at::kDouble)), whatif::Error);
}

CATCH_TEST_CASE("tiny-cnn (whatif::nn layers in a plugin): starts at 0, keeps the shape, learns") {
  whatif::Registry registry;
  registry.load(std::string(WHATIF_PLUGIN_DIR) + "/libwhatif-plugin-template.so");
  whatif::Options options;
  options.set("width", std::int64_t{8});
  const auto net = registry.create_as<whatif::Denoiser>("denoiser", "tiny-cnn", options);
  at::manual_seed(0);
  const at::Tensor x = at::randn({2, 1, 8, 8}), level = at::tensor({-1.0, 2.0});
  const at::Tensor y0 = net->forward(x, level, {});
  CATCH_REQUIRE(y0.sizes() == x.sizes());
  CATCH_REQUIRE(y0.abs().max().item<double>() == 0.0);  // zero-initialised output convolution
  // One gradient step on ||f(x) − x||² lowers it: gradients reach every layer through whatif::nn.
  std::vector<at::Tensor> params;
  for (auto& [name, p] : net->named_parameters()) params.push_back(p);
  const auto loss = [&] { return (net->forward(x, level, {}) - x).square().mean(); };
  const at::Tensor before = loss();
  before.backward();
  {
    at::NoGradGuard no_grad;
    for (auto& p : params) p -= 0.1 * p.grad();
  }
  CATCH_REQUIRE(loss().item<double>() < before.item<double>());
}

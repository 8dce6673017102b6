// The kl-vae encoder: shapes through the registry; the posterior, its KL, the loss, the scale factor
// and the adversarial term on the class itself (its sources are compiled into this test); a tiny
// 2D VAE trained to a measured reconstruction floor.
#include <catch2/catch.hpp>

#include <cmath>

#include <torch/torch.h>

#include "encoders/kl_vae.hpp"
#include "support/plugins.hpp"
#include "whatif/encoder.hpp"

using whatif::Encoder;
using whatif::test::make;
using whatif_encoders::KLVAEConfig;
using whatif_encoders::KLVAEEncoder;

namespace {

WHATIF_TEST_PLUGINS("encoders");

KLVAEConfig tiny_2d() {
  KLVAEConfig c;
  c.spatial_dims = 2;
  c.in_channels = 1;
  c.channels = {16, 32, 32};
  c.groups = 8;
  return c;
}

// Soft-edged disks of random centre, radius and brightness on a dark background, in [0, 1]:
// [n, 1, size, size].
torch::Tensor disks(std::int64_t n, std::int64_t size, std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto u = [&](double lo, double hi) {
    return torch::rand({n, 1, 1, 1}, gen) * (hi - lo) + lo;
  };
  const auto cy = u(0.3 * size, 0.7 * size), cx = u(0.3 * size, 0.7 * size);
  const auto r = u(0.15 * size, 0.3 * size), level = u(0.5, 1.0);
  const auto grid = torch::arange(size, torch::kFloat) + 0.5;
  const auto dist = ((grid.view({1, 1, size, 1}) - cy).square() + (grid.view({1, 1, 1, size}) - cx).square()).sqrt();
  return level * torch::sigmoid(2.0 * (r - dist));
}

double psnr(const torch::Tensor& a, const torch::Tensor& b) {
  return 10.0 * std::log10(1.0 / (a - b).square().mean().item<double>());
}

}  // namespace

CATCH_TEST_CASE("kl-vae shapes and latent_shape in 2D and 3D; bad options are refused") {
  at::manual_seed(0);
  const auto vae2 = make<Encoder>("encoder", "kl-vae",
                                  {"spatial_dims=2", "in_channels=2", "channels=8,16,16", "groups=4"});
  CATCH_REQUIRE(vae2->learnable());
  const auto x2 = torch::rand({3, 2, 16, 24});
  const auto z2 = vae2->encode(x2);
  CATCH_REQUIRE(z2.sizes() == torch::IntArrayRef({3, 4, 4, 6}));
  CATCH_REQUIRE(vae2->latent_shape({2, 16, 24}) == std::vector<std::int64_t>{4, 4, 6});
  CATCH_REQUIRE(vae2->decode(z2).sizes() == x2.sizes());

  const auto vae3 = make<Encoder>("encoder", "kl-vae",
                                  {"spatial_dims=3", "downsample=2", "channels=8,8", "latent_channels=3",
                                   "attention=true"});
  const auto x3 = torch::rand({1, 1, 8, 12, 4});
  const auto z3 = vae3->encode(x3);
  CATCH_REQUIRE(z3.sizes() == torch::IntArrayRef({1, 3, 4, 6, 2}));
  CATCH_REQUIRE(vae3->latent_shape({1, 8, 12, 4}) == std::vector<std::int64_t>{3, 4, 6, 2});
  CATCH_REQUIRE(vae3->decode(z3).sizes() == x3.sizes());
  CATCH_REQUIRE(vae3->named_buffers().size() == 1);
  CATCH_REQUIRE(vae3->named_buffers()[0].first == "scale_factor");

  // Without 'channels' the widths follow 'downsample': 32 at full resolution, 64 per halving.
  for (const auto& [factor, widths] : {std::pair{"1", "32"}, {"2", "32,64"}, {"8", "32,64,64,64"}}) {
    const auto derived = make<Encoder>("encoder", "kl-vae", {"spatial_dims=2", std::string("downsample=") + factor});
    const auto spelled = make<Encoder>("encoder", "kl-vae", {"spatial_dims=2", std::string("downsample=") + factor,
                                                             std::string("channels=") + widths});
    const auto a = derived->named_parameters(), b = spelled->named_parameters();
    CATCH_REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) CATCH_REQUIRE(a[i].second.sizes() == b[i].second.sizes());
  }

  CATCH_REQUIRE_THROWS_WITH(make<Encoder>("encoder", "kl-vae", {"downsample=3"}), Catch::Contains("power of 2"));
  CATCH_REQUIRE_THROWS_WITH(make<Encoder>("encoder", "kl-vae", {"hard_fraction=0"}),
                            Catch::Contains("'hard_fraction' must be in (0, 1]"));
  CATCH_REQUIRE_THROWS_WITH(make<Encoder>("encoder", "kl-vae", {"channels=32,64"}),
                            Catch::Contains("log2(downsample)+1 = 3"));
  CATCH_REQUIRE_THROWS_WITH(vae2->encode(torch::rand({1, 2, 18, 16})), Catch::Contains("divisible"));
  CATCH_REQUIRE_THROWS_WITH(vae2->encode(torch::rand({1, 1, 16, 16})), Catch::Contains("in_channels"));
  CATCH_REQUIRE_THROWS_WITH(vae2->latent_shape({2, 10, 16}), Catch::Contains("divisible"));
}

CATCH_TEST_CASE("the KL term is the closed form for a posterior we set, and the loss is L1 + weighted KL") {
  // ½ Σ (μ² + σ² − 1 − log σ²) computed element by element in double.
  torch::manual_seed(1);
  const auto mean = torch::randn({2, 4, 3, 5});
  const auto logvar = torch::randn({2, 4, 3, 5}) * 2;
  const whatif_encoders::DiagonalGaussian q{mean, logvar};
  const auto kl = q.kl();
  CATCH_REQUIRE(kl.sizes() == torch::IntArrayRef({2}));
  for (int b = 0; b < 2; ++b) {
    double expected = 0;
    const auto m = mean[b].flatten(), lv = logvar[b].flatten();
    for (int i = 0; i < m.numel(); ++i) {
      const double mu = m[i].item<double>(), l = lv[i].item<double>();
      expected += 0.5 * (mu * mu + std::exp(l) - 1 - l);
    }
    CATCH_REQUIRE(kl[b].item<double>() == Approx(expected).epsilon(1e-5));
  }
  // N(0, I) has no divergence from the prior.
  CATCH_REQUIRE(whatif_encoders::DiagonalGaussian{torch::zeros({1, 4, 2, 2}), torch::zeros({1, 4, 2, 2})}
                    .kl()
                    .item<double>() == Approx(0.0).margin(1e-12));
  // Reparameterised samples have the posterior's moments.
  const whatif_encoders::DiagonalGaussian wide{torch::full({1, 1, 200, 500}, 1.5),
                                               torch::full({1, 1, 200, 500}, std::log(0.25))};
  const auto s = wide.sample();
  CATCH_REQUIRE(s.mean().item<double>() == Approx(1.5).margin(0.005));
  CATCH_REQUIRE(s.std().item<double>() == Approx(0.5).margin(0.005));

  auto config = tiny_2d();
  config.kl_weight = 0.5;
  KLVAEEncoder vae(config);
  const auto x = disks(4, 16, 3);
  std::map<std::string, double> logs;
  torch::manual_seed(5);
  const double total = vae.loss(x, logs).item<double>();
  const double kl_x = vae.posterior(x).kl().mean().item<double>();
  CATCH_REQUIRE(logs.at("kl") == Approx(kl_x).epsilon(1e-5));
  CATCH_REQUIRE(total == Approx(logs.at("l1") + 0.5 * kl_x / 256.0).epsilon(1e-5));
  CATCH_REQUIRE(logs.count("psnr") == 1);
  CATCH_REQUIRE(logs.count("ssim") == 1);

  // The squared-error term adds l2_weight · MSE, the MSE behind the logged PSNR (data_range 1).
  config.l2_weight = 3.0;
  KLVAEEncoder with_l2(config);
  torch::manual_seed(5);
  const double total_l2 = with_l2.loss(x, logs).item<double>();
  const double mse = std::pow(10.0, -logs.at("psnr") / 10.0);
  CATCH_REQUIRE(total_l2 == Approx(logs.at("l1") + 0.5 * with_l2.posterior(x).kl().mean().item<double>() / 256.0 +
                                   3.0 * mse).epsilon(1e-5));

  // The hard term over all voxels is the MSE again; over a tenth it lies between the MSE and MSE / 0.1.
  config.hard_weight = 2.0;
  config.hard_fraction = 1.0;
  KLVAEEncoder all_hard(config);
  torch::manual_seed(5);
  const double total_hard = all_hard.loss(x, logs).item<double>();
  const double mse_hard = std::pow(10.0, -logs.at("psnr") / 10.0);
  CATCH_REQUIRE(logs.at("hard") == Approx(mse_hard).epsilon(1e-5));
  CATCH_REQUIRE(total_hard == Approx(logs.at("l1") + 0.5 * all_hard.posterior(x).kl().mean().item<double>() / 256.0 +
                                     5.0 * mse_hard).epsilon(1e-5));
  config.hard_fraction = 0.1;
  KLVAEEncoder tenth(config);
  torch::manual_seed(5);
  tenth.loss(x, logs);
  const double mse_tenth = std::pow(10.0, -logs.at("psnr") / 10.0);
  CATCH_REQUIRE(logs.at("hard") > 1.5 * mse_tenth);
  CATCH_REQUIRE(logs.at("hard") <= mse_tenth / 0.1 * (1 + 1e-5));
  config.hard_weight = 0.0;
  config.hard_fraction = 0.01;

  // A fresh network's posterior log-variance is logvar_init at every latent position, whatever the input.
  config.logvar_init = -6.0;
  KLVAEEncoder narrow(config);
  const auto fresh = narrow.posterior(x);
  CATCH_REQUIRE(fresh.logvar.min().item<double>() == Approx(-6.0).margin(1e-6));
  CATCH_REQUIRE(fresh.logvar.max().item<double>() == Approx(-6.0).margin(1e-6));
  CATCH_REQUIRE(fresh.mean.std().item<double>() > 0.0);
}

CATCH_TEST_CASE("estimate_scale gives unit-std latents on the data and decode undoes the scale") {
  torch::manual_seed(2);
  KLVAEEncoder vae(tiny_2d());
  const auto x = disks(32, 16, 4);
  torch::NoGradGuard no_grad;
  const auto before = vae.decode(vae.encode(x));
  CATCH_REQUIRE(std::abs(vae.encode(x).std().item<double>() - 1.0) > 0.05);  // not unit by accident
  const double factor = vae.estimate_scale(x);
  CATCH_REQUIRE(vae.encode(x).std().item<double>() == Approx(1.0).epsilon(1e-4));
  CATCH_REQUIRE(vae.named_buffers()[0].second.item<double>() == Approx(factor));
  CATCH_REQUIRE((vae.decode(vae.encode(x)) - before).abs().max().item<double>() < 1e-4);
  // One latent element has no spread to measure.
  auto single = tiny_2d();
  single.latent_channels = 1;
  KLVAEEncoder one(single);
  CATCH_REQUIRE_THROWS_WITH(one.estimate_scale(torch::rand({1, 1, 4, 4})), Catch::Contains("std"));
}

CATCH_TEST_CASE("gradients reach every parameter with MS-SSIM and the adversarial term on") {
  auto config = tiny_2d();
  config.ms_ssim_weight = 0.2;
  config.adversarial_weight = 0.1;
  torch::manual_seed(3);
  KLVAEEncoder vae(config);
  std::map<std::string, double> logs;
  vae.loss(disks(4, 16, 5), logs).backward();
  std::int64_t disc = 0;
  for (const auto& [name, p] : vae.named_parameters()) {
    // While every logit is inside the hinge margin, the discriminator's last bias gets −1 from the
    // real term and +1 from the fake one: its gradient cancels exactly, as it should.
    const bool cancels = name == "disc.conv3.bias";
    const bool reached = p.grad().defined() && (cancels || p.grad().abs().sum().item<double>() > 0);
    CATCH_REQUIRE(name + (reached ? "" : ": no gradient") == name);
    disc += name.rfind("disc.", 0) == 0;
  }
  CATCH_REQUIRE(disc == 8);  // three convolutions and one norm, each with a weight and a bias
  for (const char* key : {"l1", "kl", "psnr", "ssim", "ms_ssim", "adv", "disc"}) CATCH_REQUIRE(logs.count(key) == 1);
}

CATCH_TEST_CASE("the generator's hinge term trains the autoencoder and leaves the discriminator alone") {
  // Two identical models differing only in adversarial_weight: the discriminator's gradients come
  // from its own hinge loss alone, so they match; the autoencoder's differ.
  std::vector<std::map<std::string, torch::Tensor>> grads;
  for (const double weight : {0.5, 2.0}) {
    auto config = tiny_2d();
    config.adversarial_weight = weight;
    torch::manual_seed(4);
    KLVAEEncoder vae(config);
    std::map<std::string, double> logs;
    torch::manual_seed(6);
    vae.loss(disks(4, 16, 6), logs).backward();
    std::map<std::string, torch::Tensor> g;
    for (const auto& [name, p] : vae.named_parameters()) g[name] = p.grad().clone();
    grads.push_back(g);
  }
  for (const auto& [name, g] : grads[0]) {
    CATCH_INFO(name);
    const double diff = (g - grads[1].at(name)).abs().max().item<double>();
    if (name.rfind("disc.", 0) == 0)
      CATCH_REQUIRE(diff == 0.0);
    else if (name.rfind("dec_", 0) == 0)
      CATCH_REQUIRE(diff > 0.0);
  }
}

CATCH_TEST_CASE("a tiny 2D kl-vae learns to reconstruct disks") {
  torch::manual_seed(8);
  torch::set_num_threads(2);
  const auto config = tiny_2d();
  KLVAEEncoder vae(config);
  std::vector<torch::Tensor> params;
  for (const auto& [name, p] : vae.named_parameters()) params.push_back(p);
  torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(2e-3).weight_decay(0.0));
  const auto held_out = disks(64, 16, 999);
  double before = 0;
  {
    torch::NoGradGuard no_grad;
    before = psnr(vae.decode(vae.encode(held_out)), held_out);
  }
  vae.train(true);
  std::map<std::string, double> logs;
  const int steps = 300;
  for (int step = 0; step < steps; ++step) {
    const auto loss = vae.loss(disks(16, 16, 1000 + step), logs);
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
  }
  vae.train(false);
  torch::NoGradGuard no_grad;
  const double after = psnr(vae.decode(vae.encode(held_out)), held_out);
  CATCH_WARN("held-out PSNR " << before << " dB before, " << after << " dB after " << steps
                        << " steps; training-batch psnr log " << logs.at("psnr"));
  CATCH_REQUIRE(after > 26.0);  // measured 30.0 dB (seed 8, one thread)
}

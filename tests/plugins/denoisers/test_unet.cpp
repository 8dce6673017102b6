#include <catch2/catch.hpp>

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>

#include "support/plugins.hpp"
#include "whatif/denoiser.hpp"
#include "whatif/registry/log.hpp"

using whatif::Cond;
using whatif::Denoiser;
using whatif::test::make;

namespace {
WHATIF_TEST_PLUGINS("denoisers");
}  // namespace

namespace {

// Gives every zero-initialised output layer a value so the network's output depends on its input.
void randomise(Denoiser& net) {
  at::NoGradGuard no_grad;
  at::manual_seed(1);
  for (auto& [name, p] : net.named_parameters())
    if (p.abs().sum().item<double>() == 0 && p.dim() > 1) p.normal_(0, 0.05);
}

}  // namespace

CATCH_TEST_CASE("unet: 2D and 3D shapes; the zero-initialised output starts at exactly zero") {
  const auto net2 = make<Denoiser>("denoiser", "unet",
                                   {"spatial_dims=2", "in_channels=2", "channels=8,16",
                                    "attention_levels=1", "groups=4"});
  const at::Tensor x2 = at::randn({3, 2, 16, 16});
  const at::Tensor y2 = net2->forward(x2, at::zeros({3}), Cond{});
  CATCH_REQUIRE(y2.sizes() == x2.sizes());
  CATCH_REQUIRE(y2.abs().max().item<float>() == 0.0f);
  const auto net3 = make<Denoiser>("denoiser", "unet",
                                   {"spatial_dims=3", "in_channels=8", "out_channels=8",
                                    "channels=8,16,16", "groups=4"});
  const at::Tensor x3 = at::randn({2, 8, 8, 8, 8});
  CATCH_REQUIRE(net3->forward(x3, at::zeros({2}), Cond{}).sizes() == x3.sizes());
  CATCH_REQUIRE_THROWS_WITH(net3->forward(at::randn({1, 8, 6, 6, 6}), at::zeros({1}), Cond{}),
                            Catch::Contains("not divisible"));
  CATCH_REQUIRE_THROWS_WITH(make<Denoiser>("denoiser", "unet", {"channels=10,16", "groups=4"}),
                            Catch::Contains("divisible"));
}

CATCH_TEST_CASE("unet: every parameter gets a gradient, and conditions reach the output") {
  const auto net = make<Denoiser>(
      "denoiser", "unet",
      {"spatial_dims=2", "channels=8,16", "attention_levels=1", "cross_attention_levels=0,1",
       "context_dim=6", "vector_dim=5", "spatial_channels=1", "groups=4", "dropout=0.1"});
  randomise(*net);
  at::manual_seed(2);
  Cond cond{at::randn({2, 3, 6}), at::ones({2, 3}, at::kBool), at::randn({2, 5}),
            at::randn({2, 1, 8, 8})};
  const at::Tensor x = at::randn({2, 1, 8, 8});
  net->train(false);
  const at::Tensor y = net->forward(x, at::full({2}, 1.5), cond);
  y.square().sum().backward();
  for (auto& [name, p] : net->named_parameters()) {
    CATCH_INFO(name);
    CATCH_REQUIRE(p.grad().defined());
    CATCH_REQUIRE(p.grad().abs().sum().item<double>() > 0);
  }
  at::NoGradGuard no_grad;
  Cond other = cond;
  other.context = at::randn({2, 3, 6});
  CATCH_REQUIRE(!at::allclose(net->forward(x, at::full({2}, 1.5), other), y));
  other = cond;
  other.vector = at::randn({2, 5});
  CATCH_REQUIRE(!at::allclose(net->forward(x, at::full({2}, 1.5), other), y));
  CATCH_REQUIRE(!at::allclose(net->forward(x, at::full({2}, -3.0), cond), y));
  // Masked context tokens have no influence.
  other = cond;
  other.context_mask = at::tensor({1, 1, 0}).to(at::kBool).view({1, 3}).expand({2, 3}).contiguous();
  const at::Tensor masked = net->forward(x, at::full({2}, 1.5), other);
  other.context = cond.context.clone();
  other.context.select(1, 2).normal_();
  CATCH_REQUIRE(at::allclose(net->forward(x, at::full({2}, 1.5), other), masked, 1e-5, 1e-6));
}

CATCH_TEST_CASE("unet: a condition the network cannot read, or of the wrong width, is refused") {
  const at::Tensor x = at::randn({2, 1, 8, 8});
  const at::Tensor level = at::zeros({2});
  // No vector_dim, no context_dim: a FiLM vector and a context token would be ignored.
  const auto plain = make<Denoiser>("denoiser", "unet", {"spatial_dims=2", "channels=8,16", "groups=4"});
  const Cond vector_only{{}, {}, at::randn({2, 128}), {}};
  CATCH_REQUIRE_THROWS_WITH(plain->forward(x, level, vector_only),
                            Catch::Contains("reads none of it") && Catch::Contains("vector of width 128"));
  const Cond both{at::randn({2, 1, 128}), at::ones({2, 1}, at::kBool), at::randn({2, 128}), {}};
  CATCH_REQUIRE_THROWS_WITH(plain->forward(x, level, both), Catch::Contains("context tokens of width 128"));
  CATCH_REQUIRE_NOTHROW(plain->forward(x, level, Cond{}));
  // context_dim without a cross-attention level reads no context either.
  const auto no_cross = make<Denoiser>("denoiser", "unet", {"spatial_dims=2", "channels=8,16", "groups=4",
                                                            "context_dim=128", "cross_attention_levels="});
  CATCH_REQUIRE_THROWS_WITH(no_cross->forward(x, level, Cond{both.context, both.context_mask, {}, {}}),
                            Catch::Contains("reads none of it"));
  // A network reading one part of the condition (FiLM only) accepts it; a wrong width is named.
  const auto film = make<Denoiser>("denoiser", "unet", {"spatial_dims=2", "channels=8,16", "groups=4",
                                                        "vector_dim=128"});
  CATCH_REQUIRE_NOTHROW(film->forward(x, level, both));
  CATCH_REQUIRE_THROWS_WITH(film->forward(x, level, Cond{{}, {}, at::randn({2, 64}), {}}),
                            Catch::Contains("width 64") && Catch::Contains("'vector_dim' is 128"));
}

CATCH_TEST_CASE("uvit: transformer bottleneck with cross-attention; bf16 autocast stays close to fp32") {
  const auto net = make<Denoiser>("denoiser", "uvit",
                                  {"spatial_dims=3", "channels=8,16", "transformer_blocks=2",
                                   "cross_attention_levels=1", "attention_levels=",
                                   "context_dim=4", "groups=4"});
  randomise(*net);
  net->train(false);
  at::NoGradGuard no_grad;
  Cond cond{at::randn({2, 2, 4}), at::ones({2, 2}, at::kBool), {}, {}};
  const at::Tensor x = at::randn({2, 1, 8, 8, 8});
  const at::Tensor fp32 = net->forward(x, at::zeros({2}), cond);
  CATCH_REQUIRE(fp32.sizes() == x.sizes());
  at::autocast::set_cpu_enabled(true);
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  const at::Tensor bf16 = net->forward(x, at::zeros({2}), cond).to(at::kFloat);
  at::autocast::set_cpu_enabled(false);
  at::autocast::clear_cache();
  const double rel = ((bf16 - fp32).norm() / fp32.norm()).item<double>();
  CATCH_INFO("relative bf16 error " << rel);
  CATCH_REQUIRE(rel < 0.05);
}

CATCH_TEST_CASE("unet warns once when self-attention would run over more than 2048 positions") {
  std::vector<std::string> warnings;
  whatif::set_warning_sink([&](const std::string& m) { warnings.push_back(m); });
  const auto wide = make<Denoiser>("denoiser", "unet",
                                   {"spatial_dims=3", "channels=8,8", "attention_levels=-1", "groups=4"});
  const at::Tensor x = at::randn({1, 1, 32, 32, 32});
  at::NoGradGuard no_grad;
  wide->forward(x, at::zeros({1}), Cond{});
  wide->forward(x, at::zeros({1}), Cond{});
  CATCH_REQUIRE(warnings.size() == 1);  // 16³ = 4096 positions at level 1, said once
  CATCH_REQUIRE(warnings.front().find("level 1 runs over 4096 positions") != std::string::npos);
  const auto deep = make<Denoiser>("denoiser", "unet",
                                   {"spatial_dims=3", "channels=8,8,8", "attention_levels=-1", "groups=4"});
  deep->forward(x, at::zeros({1}), Cond{});  // 8³ = 512 positions: no warning
  CATCH_REQUIRE(warnings.size() == 1);
  whatif::set_warning_sink({});
}

CATCH_TEST_CASE("unet with checkpointing: the same output and gradients as without, dropout included") {
  const std::vector<std::string> options{"spatial_dims=3", "channels=8,16", "attention_levels=1", "groups=4",
                                         "dropout=0.2", "dropout_levels=0,1"};
  std::vector<at::Tensor> outputs;
  std::vector<std::map<std::string, at::Tensor>> grads;
  for (const bool checkpointing : {false, true}) {
    auto with = options;
    with.push_back(std::string("checkpointing=") + (checkpointing ? "true" : "false"));
    at::manual_seed(4);
    const auto net = make<Denoiser>("denoiser", "unet", with);
    randomise(*net);
    net->train(true);
    at::manual_seed(5);
    const at::Tensor x = at::randn({2, 1, 8, 8, 8});
    const at::Tensor y = net->forward(x, at::full({2}, 0.5), Cond{});
    y.square().sum().backward();
    outputs.push_back(y.detach());
    grads.emplace_back();
    for (auto& [name, p] : net->named_parameters()) grads.back()[name] = p.grad().clone();
  }
  CATCH_REQUIRE(at::equal(outputs[0], outputs[1]));
  for (const auto& [name, g] : grads[0]) {
    const double scale = g.abs().max().item<double>();
    const double diff = (g - grads[1].at(name)).abs().max().item<double>();
    CATCH_INFO(name << ": largest difference " << diff << " of a largest gradient " << scale);
    CATCH_REQUIRE(diff <= 1e-5 * scale);
  }
}

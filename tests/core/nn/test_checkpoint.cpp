// Activation checkpointing against the same block run plainly: equal outputs and equal gradients
// for the inputs and the block's parameters, with dropout (the recomputation must draw the first
// run's random numbers), under bf16 autocast, and when no input requires a gradient.
#include <catch2/catch.hpp>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "whatif/nn/checkpoint.hpp"

namespace {

struct Net : torch::nn::Module {
  Net() {
    a = register_module("a", torch::nn::Linear(6, 16));
    b = register_module("b", torch::nn::Linear(16, 6));
  }
  torch::Tensor block(const torch::Tensor& x, const torch::Tensor& scale) {
    auto h = torch::silu(a(x)) * scale;
    h = torch::dropout(h, 0.3, is_training());
    return b(h) + x;
  }
  torch::nn::Linear a{nullptr}, b{nullptr};
};

struct Result {
  torch::Tensor out, grad_x, grad_scale, grad_a, grad_b;
};

Result run(bool checkpointed, bool bf16, bool input_grads) {
  torch::manual_seed(3);
  Net net;
  const auto x = torch::randn({5, 6}).requires_grad_(input_grads);
  const auto scale = torch::rand({16}).requires_grad_(input_grads);
  torch::manual_seed(11);  // the dropout's stream
  at::autocast::set_cpu_enabled(bf16);
  torch::Tensor out;
  const auto block = [&](const std::vector<at::Tensor>& in) { return net.block(in[0], in[1]); };
  out = checkpointed ? whatif::nn::checkpoint(block, {x, scale}) : block({x, scale});
  at::autocast::set_cpu_enabled(false);
  at::autocast::clear_cache();
  // A second draw after the block: checkpointing must leave the generator where the plain run does.
  const auto after = torch::rand({3});
  (out.to(torch::kFloat).square().sum() + after.sum()).backward();
  return {out.detach().to(torch::kFloat), input_grads ? x.grad() : torch::Tensor(),
          input_grads ? scale.grad() : torch::Tensor(), net.a->weight.grad(), net.b->weight.grad()};
}

}  // namespace

CATCH_TEST_CASE("checkpoint recomputes the block exactly: outputs and gradients match the plain run") {
  for (const bool bf16 : {false, true})
    for (const bool input_grads : {true, false}) {
      CATCH_INFO("bf16 " << bf16 << ", inputs require grad " << input_grads);
      const Result plain = run(false, bf16, input_grads), kept = run(true, bf16, input_grads);
      CATCH_REQUIRE(torch::equal(plain.out, kept.out));
      CATCH_REQUIRE(torch::allclose(plain.grad_a, kept.grad_a, 1e-5, 1e-6));
      CATCH_REQUIRE(torch::allclose(plain.grad_b, kept.grad_b, 1e-5, 1e-6));
      if (input_grads) {
        CATCH_REQUIRE(torch::allclose(plain.grad_x, kept.grad_x, 1e-5, 1e-6));
        CATCH_REQUIRE(torch::allclose(plain.grad_scale, kept.grad_scale, 1e-5, 1e-6));
      }
    }
}

CATCH_TEST_CASE("checkpoint is a plain call without grad mode") {
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({4});
  int calls = 0;
  const auto y = whatif::nn::checkpoint([&](const std::vector<at::Tensor>& in) { ++calls; return in[0] * 2; }, {x});
  CATCH_REQUIRE(calls == 1);
  CATCH_REQUIRE(torch::equal(y, x * 2));
  CATCH_REQUIRE(!y.requires_grad());
}

// The fused GroupNorm → scale-shift → SiLU kernel against the same formula from ATen ops in fp64:
// values and every gradient, in fp32 and bf16, on sizes that are not multiples of the kernel's
// blocks and on inputs whose mean dwarfs their spread.
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include "whatif/nn/group_norm_silu.hpp"

using whatif::nn::group_norm_silu;
using whatif::nn::group_norm_silu_reference;

namespace {

struct Case {
  std::vector<std::int64_t> shape;
  std::int64_t groups;
  double offset;  // added to x
};

struct Grads {
  torch::Tensor y, x, weight, bias, scale, shift;
};

// Runs `f` on leaf copies of the inputs (x in `dtype`, parameters fp32) and backpropagates
// Σ y·g for a fixed random g.
template <typename F>
Grads run(F f, const Case& c, torch::ScalarType dtype, bool modulated) {
  torch::manual_seed(7);
  const auto channels = c.shape[1];
  auto x = (torch::randn(c.shape, torch::kDouble) * 1.5 + c.offset).to(dtype).requires_grad_();
  auto weight = (1 + 0.3 * torch::randn({channels})).requires_grad_();
  auto bias = (0.2 * torch::randn({channels})).requires_grad_();
  std::vector<std::int64_t> mod{c.shape[0], channels};
  mod.resize(c.shape.size(), 1);
  auto scale = (0.5 * torch::randn(mod)).to(dtype).requires_grad_();
  auto shift = (0.5 * torch::randn(mod)).to(dtype).requires_grad_();
  const auto y = modulated ? f(x, c.groups, weight, bias, scale, shift) : f(x, c.groups, weight, bias, torch::Tensor(), torch::Tensor());
  const auto g = torch::randn(c.shape, torch::kDouble);
  (y.to(torch::kDouble) * g).sum().backward();
  return {y.detach().to(torch::kDouble), x.grad().to(torch::kDouble), weight.grad().to(torch::kDouble),
          bias.grad().to(torch::kDouble), modulated ? scale.grad().to(torch::kDouble) : torch::Tensor(),
          modulated ? shift.grad().to(torch::kDouble) : torch::Tensor()};
}

// The reference in fp64 from the same (dtype-rounded) inputs.
Grads reference(const Case& c, torch::ScalarType dtype, bool modulated) {
  const auto f = [&](const torch::Tensor& x, std::int64_t groups, const torch::Tensor& w, const torch::Tensor& b,
                     const torch::Tensor& s, const torch::Tensor& t) {
    return group_norm_silu_reference(x.to(torch::kDouble), groups, w.to(torch::kDouble), b.to(torch::kDouble),
                                     s.defined() ? s.to(torch::kDouble) : s, t.defined() ? t.to(torch::kDouble) : t);
  };
  return run(f, c, dtype, modulated);
}

double relative(const torch::Tensor& a, const torch::Tensor& b) {
  return ((a - b).abs().max() / b.abs().max().clamp_min(1e-12)).item<double>();
}

}  // namespace

CATCH_TEST_CASE("group_norm_silu matches the fp64 composition, value and gradients") {
  const std::vector<Case> cases{{{2, 6, 5, 7, 9}, 3, 0.0},   // 3D, 315 voxels: no full block of lanes
                                {{3, 8, 40, 41}, 4, 0.0},    // 2D, 1640 voxels: more than one block
                                {{2, 4, 16, 16, 16}, 2, 50.0}};  // mean ≫ std
  for (const auto& c : cases)
    for (const bool modulated : {false, true})
      for (const auto dtype : {torch::kFloat, torch::kBFloat16}) {
        CATCH_CAPTURE(c.shape, c.offset, modulated, dtype);
        const auto kernel = [](const torch::Tensor& x, std::int64_t groups, const torch::Tensor& w,
                               const torch::Tensor& b, const torch::Tensor& s, const torch::Tensor& t) {
          return group_norm_silu(x, groups, w, b, s, t);
        };
        const Grads fused = run(kernel, c, dtype, modulated);
        const Grads ref = reference(c, dtype, modulated);
        // fp32: float arithmetic throughout; bf16: the output and dx are rounded to 8 bits.
        const double value_tol = dtype == torch::kFloat ? 2e-5 : 8e-3;
        const double param_tol = dtype == torch::kFloat ? 1e-4 : 2e-2;
        CATCH_REQUIRE(relative(fused.y, ref.y) < value_tol);
        CATCH_REQUIRE(relative(fused.x, ref.x) < (dtype == torch::kFloat ? 1e-4 : 1.5e-2));
        CATCH_REQUIRE(relative(fused.weight, ref.weight) < param_tol);
        CATCH_REQUIRE(relative(fused.bias, ref.bias) < param_tol);
        if (modulated) {
          CATCH_REQUIRE(relative(fused.scale, ref.scale) < param_tol);
          CATCH_REQUIRE(relative(fused.shift, ref.shift) < param_tol);
        }
      }
}

CATCH_TEST_CASE("group_norm_silu: NaN propagates, other dtypes take the composition, shapes are checked") {
  auto x = torch::randn({1, 4, 8, 8});
  x[0][1][2][3] = std::nan("");
  const auto w = torch::ones({4}), b = torch::zeros({4});
  for (const auto dtype : {torch::kFloat, torch::kBFloat16}) {
    const auto y = group_norm_silu(x.to(dtype), 2, w, b).to(torch::kFloat);
    CATCH_REQUIRE(y[0][0].isnan().all().item<bool>());  // the NaN's group
    CATCH_REQUIRE_FALSE(y[0][2].isnan().any().item<bool>());
  }
  const auto xd = torch::randn({2, 4, 6}, torch::kDouble);
  CATCH_REQUIRE(group_norm_silu(xd, 2, w, b).equal(group_norm_silu_reference(xd, 2, w, b)));
  CATCH_REQUIRE_THROWS(group_norm_silu(torch::randn({1, 6, 4}), 4, torch::ones({6}), torch::zeros({6})));
}

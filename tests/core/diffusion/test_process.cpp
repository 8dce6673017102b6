// The diffusion process against closed forms: noise scales of a VP and a rectified-flow schedule,
// each prediction type (ε, x, v, flow) converted back to x and ε, and the loss weightings
// (min-SNR-γ, Hang et al. 2023; sigmoid, Kingma & Gao 2023) written out independently here.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "diffusion/process.hpp"
#include "support/error_of.hpp"
#include "whatif/denoiser.hpp"
#include "whatif/registry/error.hpp"
#include "whatif/schedule.hpp"

using whatif::Target;
using whatif::Weighting;
using whatif::test::error_of;

namespace {

// λ(t) = 4 − 8t, variance preserving through Schedule's default α² = sigmoid(λ), σ² = sigmoid(−λ).
class LinearLogSnr : public whatif::Schedule {
 public:
  at::Tensor logsnr(const at::Tensor& t) const override { return 4.0 - 8.0 * t; }
  at::Tensor time(const at::Tensor& lambda) const override { return (4.0 - lambda) / 8.0; }
};

// Rectified flow: α = 1 − t, σ = t, so α² + σ² < 1 inside (0, 1) and r ≠ 1.
class RectifiedFlow : public whatif::Schedule {
 public:
  at::Tensor logsnr(const at::Tensor& t) const override { return 2.0 * ((1.0 - t) / t).log(); }
  at::Tensor time(const at::Tensor& lambda) const override { return at::sigmoid(-lambda / 2.0); }
  std::pair<at::Tensor, at::Tensor> alpha_sigma(const at::Tensor& t) const override {
    return {1.0 - t, t.clone()};
  }
};

// A network that records what it is given and answers with `answer` (zeros if unset).
class Probe : public whatif::Denoiser {
 public:
  std::function<at::Tensor(const at::Tensor&, const whatif::Cond&)> answer;
  at::Tensor seen_input, seen_level;
  int calls = 0;

  at::Tensor forward(const at::Tensor& x_t, const at::Tensor& level, const whatif::Cond& cond) override {
    ++calls;
    seen_input = x_t.clone();
    seen_level = level.clone();
    return answer ? answer(x_t, cond) : at::zeros_like(x_t);
  }
  std::int64_t spatial_dims() const override { return 2; }
  std::int64_t in_channels() const override { return 1; }
  std::int64_t out_channels() const override { return 1; }
  whatif::NamedTensors named_parameters() override { return {}; }
  void train(bool) override {}
  void to(const c10::Device&) override {}
};

whatif::ProcessConfig config(Target target, Weighting weighting = Weighting::Uniform) {
  whatif::ProcessConfig c;
  c.target = target;
  c.weighting = weighting;
  return c;
}

// [B] → [B, 1, ..., 1] with `dims` dimensions in all.
at::Tensor per_example(const at::Tensor& v, std::int64_t dims) {
  std::vector<std::int64_t> shape(dims, 1);
  shape[0] = v.size(0);
  return v.reshape(shape);
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

const std::vector<Target> all_targets{Target::Eps, Target::X, Target::V, Target::Flow};

}  // namespace

CATCH_TEST_CASE("noise scales of a VP schedule: α² = sigmoid(λ), σ² = sigmoid(−λ), r = 1") {
  const std::vector<double> times{0.0, 0.1, 0.5, 0.77, 1.0};
  LinearLogSnr schedule;
  const auto n = whatif::noise_scales(schedule, at::tensor(times, at::kDouble), 4);
  CATCH_REQUIRE(n.alpha.sizes() == at::IntArrayRef({5, 1, 1, 1}));
  CATCH_REQUIRE(n.lambda.sizes() == at::IntArrayRef({5}));
  for (std::size_t i = 0; i < times.size(); ++i) {
    const double lambda = 4.0 - 8.0 * times[i];
    const double alpha = std::sqrt(sigmoid(lambda)), sigma = std::sqrt(sigmoid(-lambda));
    const auto at_i = [&](const at::Tensor& v) { return v.flatten()[i].item<double>(); };
    CATCH_REQUIRE(at_i(n.alpha) == Approx(alpha).epsilon(1e-6));
    CATCH_REQUIRE(at_i(n.sigma) == Approx(sigma).epsilon(1e-6));
    CATCH_REQUIRE(at_i(n.r) == Approx(1.0).epsilon(1e-6));
    CATCH_REQUIRE(at_i(n.a) == Approx(alpha).epsilon(1e-6));
    CATCH_REQUIRE(at_i(n.s) == Approx(sigma).epsilon(1e-6));
    CATCH_REQUIRE(at_i(n.lambda) == Approx(lambda).margin(1e-5));
  }
}

CATCH_TEST_CASE("noise scales of rectified flow: r = √(α²+σ²), a²+s² = 1, λ finite at the ends") {
  const std::vector<double> times{0.0, 0.2, 0.5, 0.9, 1.0};
  RectifiedFlow schedule;
  const auto n = whatif::noise_scales(schedule, at::tensor(times, at::kDouble), 3);
  CATCH_REQUIRE(n.r.sizes() == at::IntArrayRef({5, 1, 1}));
  for (std::size_t i = 0; i < times.size(); ++i) {
    const double alpha = 1.0 - times[i], sigma = times[i];
    const double r = std::sqrt(alpha * alpha + sigma * sigma);
    const auto at_i = [&](const at::Tensor& v) { return v.flatten()[i].item<double>(); };
    CATCH_REQUIRE(at_i(n.alpha) == Approx(alpha).margin(1e-7));
    CATCH_REQUIRE(at_i(n.sigma) == Approx(sigma).margin(1e-7));
    CATCH_REQUIRE(at_i(n.r) == Approx(r).epsilon(1e-6));
    CATCH_REQUIRE(at_i(n.a) == Approx(alpha / r).margin(1e-6));
    CATCH_REQUIRE(at_i(n.s) == Approx(sigma / r).margin(1e-6));
    CATCH_REQUIRE(at_i(n.a) * at_i(n.a) + at_i(n.s) * at_i(n.s) == Approx(1.0).epsilon(1e-6));
  }
  const auto lambda = n.lambda.to(at::kDouble);
  CATCH_REQUIRE(lambda[1].item<double>() == Approx(2.0 * std::log(0.8 / 0.2)).epsilon(1e-6));
  CATCH_REQUIRE(lambda[2].item<double>() == Approx(0.0).margin(1e-6));
  // α = 0 or σ = 0 exactly: λ is clamped to the embeddable range, not ±inf.
  CATCH_REQUIRE(lambda[0].item<double>() == 30.0);
  CATCH_REQUIRE(lambda[4].item<double>() == -30.0);
}

CATCH_TEST_CASE("each prediction type converts back to x and ε (VP and rectified flow)") {
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(11);
  const at::Tensor x = at::randn({5, 2, 3, 3}, g, at::kDouble);
  const at::Tensor eps = at::randn({5, 2, 3, 3}, g, at::kDouble);
  const at::Tensor t = at::tensor({0.05, 0.3, 0.5, 0.7, 0.95}, at::kDouble);
  LinearLogSnr vp;
  RectifiedFlow flow;
  for (const whatif::Schedule* schedule : {static_cast<const whatif::Schedule*>(&vp),
                                           static_cast<const whatif::Schedule*>(&flow)}) {
    at::Tensor alpha, sigma;
    if (schedule == &vp) {
      alpha = at::sigmoid(4.0 - 8.0 * t).sqrt();
      sigma = at::sigmoid(8.0 * t - 4.0).sqrt();
    } else {
      alpha = 1.0 - t;
      sigma = t;
    }
    alpha = per_example(alpha, 4);
    sigma = per_example(sigma, 4);
    const at::Tensor r = (alpha.square() + sigma.square()).sqrt();
    const at::Tensor a = alpha / r, s = sigma / r;
    const at::Tensor x_t = alpha * x + sigma * eps;
    const auto scales = whatif::noise_scales(*schedule, t, 4);
    for (const Target target : all_targets) {
      CATCH_CAPTURE(whatif::to_string(target), schedule == &vp);
      at::Tensor prediction;
      switch (target) {
        case Target::Eps: prediction = eps; break;
        case Target::X: prediction = x; break;
        case Target::V: prediction = a * eps - s * x; break;  // Salimans & Ho 2022, on z = x_t / r
        case Target::Flow: prediction = eps - x; break;
      }
      Probe probe;
      const whatif::DiffusionProcess process(config(target), probe, *schedule);
      const at::Tensor x_hat = process.clean_estimate(prediction.to(at::kFloat), x_t.to(at::kFloat), scales)
                                   .to(at::kDouble);
      const at::Tensor eps_hat = (x_t - alpha * x_hat) / sigma;
      CATCH_REQUIRE(at::allclose(x_hat, x, 1e-4, 1e-4));
      CATCH_REQUIRE(at::allclose(eps_hat, eps, 1e-4, 1e-4));
    }
  }
  // On a VP schedule (r = 1) the v target is the textbook α ε − σ x.
  const auto scales = whatif::noise_scales(vp, t, 4);
  const at::Tensor alpha = per_example(at::sigmoid(4.0 - 8.0 * t).sqrt(), 4);
  const at::Tensor sigma = per_example(at::sigmoid(8.0 * t - 4.0).sqrt(), 4);
  Probe probe;
  const whatif::DiffusionProcess process(config(Target::V), probe, vp);
  const at::Tensor v = alpha * eps - sigma * x;
  const at::Tensor x_t = alpha * x + sigma * eps;
  CATCH_REQUIRE(at::allclose(process.clean_estimate(v.to(at::kFloat), x_t.to(at::kFloat), scales).to(at::kDouble),
                             x, 1e-4, 1e-4));
}

CATCH_TEST_CASE("the loss is the weighted target-space MSE: uniform, min-SNR-γ and sigmoid") {
  at::Generator data = at::make_generator<at::CPUGeneratorImpl>(5);
  const at::Tensor x0 = at::randn({8, 1, 4, 4}, data);
  LinearLogSnr schedule;
  const double gamma = 2.0, bias = -1.0;
  for (const Target target : all_targets) {
    for (const Weighting weighting : {Weighting::Uniform, Weighting::MinSnr, Weighting::Sigmoid}) {
      CATCH_CAPTURE(whatif::to_string(target), whatif::to_string(weighting));
      Probe probe;  // predicts 0, so the MSE is the target's mean square
      whatif::ProcessConfig c = config(target, weighting);
      c.min_snr_gamma = gamma;
      c.sigmoid_bias = bias;
      const whatif::DiffusionProcess process(c, probe, schedule);
      at::Generator g = at::make_generator<at::CPUGeneratorImpl>(17);
      const double loss = process.loss(x0, {}, g).item<double>();

      // Rebuild x_t's noise from what the network saw (VP: it sees x_t itself).
      const at::Tensor lambda = probe.seen_level.to(at::kDouble);
      const at::Tensor alpha = at::sigmoid(lambda).sqrt(), sigma = at::sigmoid(-lambda).sqrt();
      const at::Tensor a4 = per_example(alpha, 4), s4 = per_example(sigma, 4);
      const at::Tensor x = x0.to(at::kDouble);
      const at::Tensor eps = (probe.seen_input.to(at::kDouble) - a4 * x) / s4;
      at::Tensor target_value;
      switch (target) {
        case Target::Eps: target_value = eps; break;
        case Target::X: target_value = x; break;
        case Target::V: target_value = a4 * eps - s4 * x; break;
        case Target::Flow: target_value = eps - x; break;
      }
      const at::Tensor mse = target_value.square().flatten(1).mean(1);
      // Weights per unit of target-space MSE. x̂'s error is the target error times
      // 1/√snr (ε), 1 (x), σ (v) or σ/(α+σ) (flow), so an x-space weight w becomes
      // w/snr, w, w σ² or w σ²/(α+σ)².
      const at::Tensor snr = alpha.square() / sigma.square();
      at::Tensor x_weight;  // the weighting expressed on the x-space MSE
      switch (weighting) {
        case Weighting::Uniform: x_weight = at::Tensor(); break;
        case Weighting::MinSnr: x_weight = at::clamp_max(snr, gamma); break;
        case Weighting::Sigmoid: x_weight = at::sigmoid(bias - lambda) * snr; break;  // sigmoid(b − λ) on ε
      }
      at::Tensor weight;
      if (!x_weight.defined()) {
        weight = at::ones_like(mse);
      } else {
        switch (target) {
          case Target::Eps: weight = x_weight / snr; break;
          case Target::X: weight = x_weight; break;
          case Target::V: weight = x_weight * sigma.square(); break;
          case Target::Flow: weight = x_weight * (sigma / (alpha + sigma)).square(); break;
        }
      }
      const double expected = (weight * mse).mean().item<double>();
      CATCH_REQUIRE(loss == Approx(expected).epsilon(1e-4));
      // The batch straddles γ, so the clamp of min-SNR is exercised.
      CATCH_REQUIRE((snr > gamma).any().item<bool>());
      CATCH_REQUIRE((snr < gamma).any().item<bool>());
    }
  }
}

CATCH_TEST_CASE("the multiscale loss adds the 2×-pooled error; mask_weight weighs voxels 1 + λ·mask at every scale") {
  at::Generator data = at::make_generator<at::CPUGeneratorImpl>(8);
  LinearLogSnr schedule;
  for (const std::int64_t dims : {2, 3})
    for (const double lambda : {0.0, 4.0}) {
      CATCH_CAPTURE(dims, lambda);
      std::vector<std::int64_t> shape{3, 1};
      for (std::int64_t d = 0; d < dims; ++d) shape.push_back(4);
      const at::Tensor x0 = at::randn(shape, data);
      const at::Tensor mask = (at::rand(shape, data) < 0.3).to(at::kFloat);
      Probe probe;  // predicts 0: the x-target error is −x0
      whatif::ProcessConfig c = config(Target::X);
      c.multiscale = 1;
      c.mask_weight = lambda;
      const whatif::DiffusionProcess process(c, probe, schedule);
      at::Generator g = at::make_generator<at::CPUGeneratorImpl>(2);
      const double loss = process.loss(x0, {}, g, mask).item<double>();
      // By hand: weights 1 + λ·mask; 2× average pooling splits each side into (2, 2) and averages
      // the inner halves, of the error and of the weights alike.
      const at::Tensor w = 1.0 + lambda * mask;
      const auto pool = [&](const at::Tensor& v) {
        return dims == 2 ? v.reshape({3, 1, 2, 2, 2, 2}).mean({3, 5}) : v.reshape({3, 1, 2, 2, 2, 2, 2, 2}).mean({3, 5, 7});
      };
      const at::Tensor per_example = ((w * x0.square()).flatten(1).mean(1) +
                                      (pool(w) * pool(x0).square()).flatten(1).mean(1)) / 2.0;
      CATCH_REQUIRE(loss == Approx(per_example.mean().item<double>()).epsilon(1e-5));
      // No mask, or an empty one, is the unweighted loss.
      at::Generator g0 = at::make_generator<at::CPUGeneratorImpl>(2), g1 = at::make_generator<at::CPUGeneratorImpl>(2);
      const double unweighted = process.loss(x0, {}, g0).item<double>();
      CATCH_REQUIRE(process.loss(x0, {}, g1, at::zeros_like(mask)).item<double>() == Approx(unweighted).epsilon(1e-6));
      if (lambda > 0) CATCH_REQUIRE(loss > unweighted);
    }
  // A mask of another shape is refused.
  Probe probe;
  whatif::ProcessConfig c = config(Target::X);
  c.mask_weight = 1.0;
  const whatif::DiffusionProcess process(c, probe, schedule);
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(2);
  CATCH_REQUIRE(error_of([&] { process.loss(at::zeros({2, 1, 4, 4}), {}, g, at::zeros({2, 1, 2, 2})); })
                    .find("mask does not match") != std::string::npos);
}

CATCH_TEST_CASE("denoise feeds the network z = x_t / r and λ, and converts its prediction") {
  RectifiedFlow schedule;
  Probe probe;
  probe.answer = [](const at::Tensor& z, const whatif::Cond&) { return 0.5 * z + 0.25; };
  const whatif::DiffusionProcess process(config(Target::V), probe, schedule);
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(4);
  const at::Tensor x_t = at::randn({2, 1, 3, 3}, g);
  const at::Tensor t = at::tensor({0.25, 0.6}, at::kDouble);
  const at::Tensor x_hat = process.denoise(x_t, t, {});
  const at::Tensor alpha = 1.0 - t, sigma = t;
  const at::Tensor r = per_example((alpha.square() + sigma.square()).sqrt(), 4).to(at::kFloat);
  const at::Tensor z = x_t / r;
  CATCH_REQUIRE(at::allclose(probe.seen_input, z, 1e-5, 1e-6));
  CATCH_REQUIRE(at::allclose(probe.seen_level.to(at::kDouble), 2.0 * (alpha / sigma).log(), 1e-5, 1e-5));
  const at::Tensor a = per_example(alpha, 4).to(at::kFloat) / r, s = per_example(sigma, 4).to(at::kFloat) / r;
  CATCH_REQUIRE(at::allclose(x_hat, a * z - s * (0.5 * z + 0.25), 1e-5, 1e-6));
}

CATCH_TEST_CASE("classifier-free guidance: x̂(∅) + w (x̂(c) − x̂(∅)), both branches in one batch") {
  LinearLogSnr schedule;
  Probe probe;  // x-prediction of the condition's vector, broadcast over the image
  probe.answer = [](const at::Tensor& z, const whatif::Cond& cond) {
    return at::zeros_like(z) + cond.vector.reshape({-1, 1, 1, 1});
  };
  const whatif::DiffusionProcess process(config(Target::X), probe, schedule);
  whatif::Cond cond, null;
  cond.vector = at::tensor({2.0f, 5.0f}).reshape({2, 1});
  null.vector = at::tensor({1.0f, -1.0f}).reshape({2, 1});
  const at::Tensor x = at::zeros({2, 1, 2, 2});
  const at::Tensor t = at::full({2}, 0.5, at::kDouble);
  const auto value = [](const at::Tensor& out) { return out.flatten(1).select(1, 0); };

  const at::Tensor guided = process.guided(cond, null, 3.0)(x, t);
  CATCH_REQUIRE(probe.calls == 1);
  CATCH_REQUIRE(probe.seen_input.size(0) == 4);
  CATCH_REQUIRE(at::allclose(value(guided), at::tensor({1.0f + 3.0f * (2.0f - 1.0f), -1.0f + 3.0f * (5.0f + 1.0f)})));
  CATCH_REQUIRE(at::allclose(value(process.guided(cond, null, 1.0)(x, t)), at::tensor({2.0f, 5.0f})));
  CATCH_REQUIRE(at::allclose(value(process.guided(cond, null, 0.0)(x, t)), at::tensor({1.0f, -1.0f})));
  CATCH_REQUIRE(probe.seen_input.size(0) == 2);  // w = 0 and w = 1 run one branch only
}

CATCH_TEST_CASE("concat pads the shorter context with masked zeros and refuses unmatched fields") {
  whatif::Cond a, b;
  a.context = at::ones({1, 3, 2});
  b.context = at::full({1, 1, 2}, 2.0f);
  const whatif::Cond both = whatif::concat(a, b);
  CATCH_REQUIRE(both.context.sizes() == at::IntArrayRef({2, 3, 2}));
  CATCH_REQUIRE(both.context[0].equal(at::ones({3, 2})));
  CATCH_REQUIRE(both.context[1][0].equal(at::full({2}, 2.0f)));
  CATCH_REQUIRE(both.context[1].narrow(0, 1, 2).equal(at::zeros({2, 2})));
  CATCH_REQUIRE(both.context_mask.equal(at::tensor({1, 1, 1, 1, 0, 0}).reshape({2, 3}).to(at::kBool)));
  CATCH_REQUIRE(!both.vector.defined());
  CATCH_REQUIRE(!both.spatial.defined());

  whatif::Cond with_vector;
  with_vector.vector = at::ones({1, 4});
  CATCH_REQUIRE(error_of([&] { whatif::concat(with_vector, whatif::Cond{}); }) ==
                "guidance: the null condition and the condition carry different fields");
}

CATCH_TEST_CASE("targets and weightings parse from their names and refuse others") {
  for (const Target target : all_targets)
    CATCH_REQUIRE(whatif::parse_target(whatif::to_string(target)) == target);
  for (const Weighting w : {Weighting::Uniform, Weighting::MinSnr, Weighting::Sigmoid})
    CATCH_REQUIRE(whatif::parse_weighting(whatif::to_string(w)) == w);
  CATCH_REQUIRE(std::string(whatif::to_string(Target::Eps)) == "eps");
  CATCH_REQUIRE(std::string(whatif::to_string(Weighting::MinSnr)) == "min-snr");
  CATCH_REQUIRE(error_of([] { whatif::parse_target("epsilon"); }) ==
                "target 'epsilon': expected eps, x, v or flow");
  CATCH_REQUIRE(error_of([] { whatif::parse_weighting("min_snr"); }) ==
                "weighting 'min_snr': expected uniform, min-snr or sigmoid");
}

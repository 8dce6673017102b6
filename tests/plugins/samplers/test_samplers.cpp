// Samplers on Gaussian data, where everything is known in closed form (double precision):
//   the optimal denoiser  E[x | x_t] = μ + α Σ (α² Σ + σ² I)⁻¹ (x_t − α μ),
//   the marginal          x_t ~ N(α μ, α² Σ + σ² I),
//   the probability-flow map between times, per eigen-direction of Σ = Q diag(e) Qᵀ:
//                         x_s − α_s μ = Q diag(√(v_s / v_t)) Qᵀ (x_t − α_t μ),  v = α² e + σ².
// Deterministic samplers are compared point by point with that map (and must converge at their
// order); every sampler's samples must match the target mean and covariance.
#include <catch2/catch.hpp>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "whatif/registry/registry.hpp"
#include "whatif/sampler.hpp"
#include "whatif/schedule.hpp"

namespace {

constexpr std::int64_t kSamples = 10000;

struct Gaussian {
  at::Tensor mu, q, e;  // mean [D]; Σ = q diag(e) qᵀ
  Gaussian() {
    mu = at::tensor({0.5, -1.0, 0.25}, at::kDouble);
    const at::Tensor cov =
        at::tensor({1.0, 0.6, -0.2, 0.6, 0.8, 0.1, -0.2, 0.1, 0.3}, at::kDouble).view({3, 3});
    std::tie(e, q) = at::linalg_eigh(cov);
  }
  // Q diag(d) Qᵀ applied to the rows of x.
  at::Tensor along_eigen(const at::Tensor& x, const at::Tensor& d) const {
    return at::matmul(at::matmul(x, q) * d, q.t());
  }
  std::pair<double, double> alpha_sigma(const whatif::Schedule& s, double t) const {
    const auto [a, sg] = s.alpha_sigma(at::full({1}, t, at::kDouble));
    return {a.item<double>(), sg.item<double>()};
  }
  at::Tensor variance(double alpha, double sigma) const {
    return alpha * alpha * e + sigma * sigma;
  }

  whatif::DenoiseFn denoiser(const whatif::Schedule& schedule, int* calls = nullptr) const {
    return [this, &schedule, calls](const at::Tensor& x, const at::Tensor& t) {
      if (calls) ++*calls;
      if (t.size(0) != x.size(0) || !(t == t[0]).all().item<bool>())
        throw std::logic_error("the denoiser expects one time per row, the same for all rows");
      const auto [a, s] = alpha_sigma(schedule, t[0].item<double>());
      return mu + along_eigen(x - a * mu, a * e / variance(a, s));
    };
  }
  at::Tensor marginal(const whatif::Schedule& schedule, double t, at::Generator& g) const {
    const auto [a, s] = alpha_sigma(schedule, t);
    return a * mu + along_eigen(at::randn({kSamples, 3}, g, at::kDouble), variance(a, s).sqrt());
  }
  at::Tensor flow(const whatif::Schedule& schedule, const at::Tensor& x, double from,
                  double to) const {
    const auto [a0, s0] = alpha_sigma(schedule, from);
    const auto [a1, s1] = alpha_sigma(schedule, to);
    return a1 * mu + along_eigen(x - a0 * mu, (variance(a1, s1) / variance(a0, s0)).sqrt());
  }
  // Error of x against `reference` in units of the marginal's standard deviation at t (whitened),
  // so that one tolerance serves σ_max = 80 and σ = 0 alike.
  double whitened_error(const whatif::Schedule& schedule, double t, const at::Tensor& x,
                        const at::Tensor& reference) const {
    const auto [a, s] = alpha_sigma(schedule, t);
    return along_eigen(x - reference, variance(a, s).rsqrt()).abs().max().item<double>();
  }
  // Largest deviation of the whitened sample mean from 0 and of the whitened covariance from I,
  // against the marginal at t.
  std::pair<double, double> moment_errors(const whatif::Schedule& schedule, double t,
                                          const at::Tensor& x) const {
    const auto [a, s] = alpha_sigma(schedule, t);
    const at::Tensor w = along_eigen(x - a * mu, variance(a, s).rsqrt());
    const at::Tensor mean = w.mean(0);
    const at::Tensor centred = w - mean;
    const at::Tensor cov = at::matmul(centred.t(), centred) / (x.size(0) - 1);
    return {mean.abs().max().item<double>(),
            (cov - at::eye(3, at::kDouble)).abs().max().item<double>()};
  }
};

// With 10000 samples the whitened mean has standard error 1/√10000 = 0.01 per coordinate and the
// whitened covariance √(2/10000) ≈ 0.014 (diagonal) and 0.01 (off-diagonal): 0.06 leaves four
// standard errors of the diagonal and room for each sampler's discretisation bias at the step
// counts below, and still rejects a covariance 10 % too large.
constexpr double kMomentTolerance = 0.06;

struct Fixture {
  whatif::Registry registry;
  Gaussian data;
  Fixture() {
    registry.load(std::string(WHATIF_PLUGIN_DIR) + "/libwhatif-plugin-schedules.so");
    registry.load(std::string(WHATIF_PLUGIN_DIR) + "/libwhatif-plugin-samplers.so");
  }
  std::shared_ptr<whatif::Schedule> schedule(const std::string& name) {
    return registry.create_as<whatif::Schedule>("schedule", name, {});
  }
  std::shared_ptr<whatif::Sampler> sampler(const std::string& name,
                                           const whatif::Options& options = {}) {
    return registry.create_as<whatif::Sampler>("sampler", name, options);
  }
};

whatif::SampleOptions steps(std::int64_t n) {
  whatif::SampleOptions o;
  o.steps = n;
  return o;
}

const std::vector<std::string> kSchedules = {"cosine", "linear", "rectified-flow", "edm"};

}  // namespace

CATCH_TEST_CASE("deterministic samplers follow the exact probability-flow map at their order") {
  Fixture f;
  struct Case {
    std::string sampler;
    int order;
    double tolerance;
  };
  // Largest whitened error after 256 steps, and the order: going from 128 to 256 steps divides the
  // error by at least about 2^order. The linear schedule reaches σ = 0 at t = 0 with σ² ≈ β_min t;
  // the last step into σ = 0 is first order (its error is O(σ²) = O(1/steps)), so there every
  // sampler is first order.
  for (const Case& c : {Case{"ddim", 1, 0.08}, Case{"euler", 1, 0.08}, Case{"dpmpp-2m", 2, 0.015},
                        Case{"heun", 2, 0.015}}) {
    const auto sampler = f.sampler(c.sampler);
    for (const auto& name : kSchedules) {
      CATCH_INFO(c.sampler << " on " << name);
      const auto schedule = f.schedule(name);
      at::Generator g = at::detail::createCPUGenerator(7);
      const at::Tensor start = f.data.marginal(*schedule, 1.0, g);
      const at::Tensor exact = f.data.flow(*schedule, start, 1.0, 0.0);
      std::vector<double> errors;
      for (std::int64_t n : {128, 256}) {
        const at::Tensor x =
            sampler->sample(f.data.denoiser(*schedule), *schedule, start, steps(n));
        errors.push_back(f.data.whitened_error(*schedule, 0.0, x, exact));
      }
      CATCH_INFO("errors at 128/256 steps: " << errors[0] << " " << errors[1]);
      CATCH_CHECK(errors[1] < c.tolerance);
      const int order = name == "linear" ? 1 : c.order;
      CATCH_CHECK(errors[0] / errors[1] > 0.75 * std::pow(2.0, order));
    }
  }
}

CATCH_TEST_CASE("every sampler draws the Gaussian's mean and covariance") {
  Fixture f;
  struct Case {
    std::string sampler;
    whatif::Options options;
    std::int64_t steps;
  };
  whatif::Options eta;
  eta.set("eta", 0.5);
  whatif::Options churn;
  churn.set("churn", 20.0);
  const std::vector<Case> cases = {
      {"ddpm", {}, 300},  {"ddim", {}, 150},     {"ddim", eta, 300}, {"dpmpp-2m", {}, 100},
      {"euler", {}, 150}, {"euler", churn, 500}, {"heun", {}, 100},  {"heun", churn, 100}};
  for (const Case& c : cases) {
    const auto sampler = f.sampler(c.sampler, c.options);
    for (const auto& name : kSchedules) {
      CATCH_INFO(c.sampler << " " << c.options.to_json() << " on " << name << ", " << c.steps
                           << " steps");
      const auto schedule = f.schedule(name);
      at::Generator g = at::detail::createCPUGenerator(11);
      whatif::SampleOptions o = steps(c.steps);
      o.generator = at::detail::createCPUGenerator(12);
      const at::Tensor x = sampler->sample(f.data.denoiser(*schedule), *schedule,
                                           f.data.marginal(*schedule, 1.0, g), o);
      const auto [mean_error, cov_error] = f.data.moment_errors(*schedule, 0.0, x);
      CATCH_INFO("whitened mean error " << mean_error << ", covariance error " << cov_error);
      CATCH_CHECK(mean_error < kMomentTolerance);
      CATCH_CHECK(cov_error < kMomentTolerance);
    }
  }
}

CATCH_TEST_CASE("the moment check rejects a covariance 10 % too large") {
  Fixture f;
  const auto schedule = f.schedule("cosine");
  at::Generator g = at::detail::createCPUGenerator(11);
  const at::Tensor x =
      f.data.mu + (f.data.marginal(*schedule, 0.0, g) - f.data.mu) * std::sqrt(1.1);
  CATCH_CHECK(f.data.moment_errors(*schedule, 0.0, x).second > kMomentTolerance);
}

CATCH_TEST_CASE("ddim: inversion follows the exact map to noise and invert-then-sample returns x") {
  Fixture f;
  const auto ddim = f.sampler("ddim");
  CATCH_REQUIRE(ddim->invertible());
  for (const auto& name : kSchedules) {
    CATCH_INFO(name);
    const auto schedule = f.schedule(name);
    at::Generator g = at::detail::createCPUGenerator(3);
    const at::Tensor x = f.data.marginal(*schedule, 0.0, g);
    std::vector<double> round_trip;
    for (std::int64_t n : {250, 500}) {
      const at::Tensor z = ddim->invert(f.data.denoiser(*schedule), *schedule, x, steps(n));
      CATCH_CHECK(f.data.whitened_error(*schedule, 1.0, z, f.data.flow(*schedule, x, 0.0, 1.0)) <
                  0.06);
      const at::Tensor back = ddim->sample(f.data.denoiser(*schedule), *schedule, z, steps(n));
      round_trip.push_back(f.data.whitened_error(*schedule, 0.0, back, x));
    }
    // DDIM inversion takes x̂ at the start of each step, the sampler at the other end: the two
    // differ by O(step), so the round trip converges at first order.
    CATCH_INFO("round-trip errors at 250/500 steps: " << round_trip[0] << " " << round_trip[1]);
    CATCH_CHECK(round_trip[1] < 0.08);
    CATCH_CHECK(round_trip[0] / round_trip[1] > 1.5);
  }
}

CATCH_TEST_CASE("samplers: partial ranges, callbacks, generators and refusals") {
  Fixture f;
  const auto schedule = f.schedule("cosine");
  // From t = 0.6 to t = 0.2: the same exact map, between intermediate times.
  {
    at::Generator g = at::detail::createCPUGenerator(5);
    const at::Tensor start = f.data.marginal(*schedule, 0.6, g);
    whatif::SampleOptions o = steps(64);
    o.t_start = 0.6;
    o.t_end = 0.2;
    const at::Tensor x = f.sampler("heun")->sample(f.data.denoiser(*schedule), *schedule, start, o);
    CATCH_CHECK(f.data.whitened_error(*schedule, 0.2, x, f.data.flow(*schedule, start, 0.6, 0.2)) <
                1e-3);
  }
  // on_step sees every step; heun calls the denoiser twice per step except into σ = 0.
  {
    const auto linear = f.schedule("linear");
    std::vector<std::int64_t> seen;
    whatif::SampleOptions o = steps(10);
    o.on_step = [&seen](std::int64_t step, std::int64_t total) {
      CATCH_CHECK(total == 10);
      seen.push_back(step);
    };
    int calls = 0;
    at::Generator g = at::detail::createCPUGenerator(5);
    f.sampler("heun")->sample(f.data.denoiser(*linear, &calls), *linear,
                              f.data.marginal(*linear, 1.0, g), o);
    CATCH_CHECK(seen == std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
    CATCH_CHECK(calls == 19);
  }
  // Stochastic samplers draw from the given generator: same seed, same samples.
  {
    const auto ddpm = f.sampler("ddpm");
    at::Generator g = at::detail::createCPUGenerator(5);
    const at::Tensor start = f.data.marginal(*schedule, 1.0, g);
    const auto run = [&](std::uint64_t seed) {
      whatif::SampleOptions o = steps(20);
      o.generator = at::detail::createCPUGenerator(seed);
      return ddpm->sample(f.data.denoiser(*schedule), *schedule, start, o);
    };
    CATCH_CHECK(at::equal(run(1), run(1)));
    CATCH_CHECK(!at::equal(run(1), run(2)));
  }
  // Refusals name what to change.
  whatif::Options eta;
  eta.set("eta", 0.5);
  const auto stochastic = f.sampler("ddim", eta);
  CATCH_CHECK(!stochastic->invertible());
  CATCH_CHECK(!f.sampler("ddpm")->invertible());
  const at::Tensor x = at::zeros({4, 3}, at::kDouble);
  CATCH_REQUIRE_THROWS_WITH(stochastic->invert(f.data.denoiser(*schedule), *schedule, x, steps(10)),
                            Catch::Contains("eta = 0"));
  CATCH_REQUIRE_THROWS_WITH(
      f.sampler("heun")->invert(f.data.denoiser(*schedule), *schedule, x, steps(10)),
      Catch::Contains("cannot invert"));
  CATCH_REQUIRE_THROWS_WITH(
      f.sampler("euler")->sample(f.data.denoiser(*schedule), *schedule, x, steps(0)),
      Catch::Contains("steps >= 1"));
  whatif::SampleOptions backwards = steps(10);
  backwards.t_start = 0.2;
  backwards.t_end = 0.5;
  CATCH_REQUIRE_THROWS_WITH(
      f.sampler("ddim")->sample(f.data.denoiser(*schedule), *schedule, x, backwards),
      Catch::Contains("t_end < t_start"));
  whatif::Options bad;
  bad.set("eta", 2.0);
  CATCH_REQUIRE_THROWS_WITH(f.sampler("ddim", bad), Catch::Contains("'eta'"));
}

// Schedules against their closed forms: α² + σ² = 1 for VP processes, λ consistent with (α, σ),
// λ strictly decreasing, t(λ(t)) = t, and each paper's formula evaluated independently here.
#include <catch2/catch.hpp>

#include <cmath>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "whatif/registry/registry.hpp"
#include "whatif/schedule.hpp"

namespace {

constexpr double kPi = 3.14159265358979323846;

struct Fixture {
  whatif::Registry registry;
  Fixture() { registry.load(std::string(WHATIF_PLUGIN_DIR) + "/libwhatif-plugin-schedules.so"); }
  std::shared_ptr<whatif::Schedule> make(const std::string& name,
                                         const whatif::Options& options = {}) {
    return registry.create_as<whatif::Schedule>("schedule", name, options);
  }
};

whatif::Options resolution(std::int64_t size, std::int64_t base, std::int64_t dims) {
  whatif::Options o;
  o.set("size", size);
  o.set("base_size", base);
  o.set("spatial_dims", dims);
  return o;
}

double at_t(const whatif::Schedule& s, double t) {
  return s.logsnr(at::full({1}, t, at::kDouble)).item<double>();
}

double max_abs(const at::Tensor& a) { return a.abs().max().item<double>(); }

struct Named {
  std::string label;
  std::shared_ptr<whatif::Schedule> schedule;
  bool variance_preserving;
};

std::vector<Named> every_schedule(Fixture& f) {
  whatif::Options interp;
  interp.set("size", std::int64_t{128});
  return {{"linear", f.make("linear"), true},
          {"cosine", f.make("cosine"), true},
          {"shifted-cosine 2D", f.make("shifted-cosine", resolution(256, 64, 2)), true},
          {"shifted-cosine 3D", f.make("shifted-cosine", resolution(128, 64, 3)), true},
          {"interpolated", f.make("interpolated", interp), true},
          {"sigmoid", f.make("sigmoid"), true},
          {"rectified-flow", f.make("rectified-flow", resolution(128, 64, 3)), false},
          {"edm", f.make("edm"), false}};
}

}  // namespace

CATCH_TEST_CASE("schedules: α² + σ² = 1 (VP), λ = log(α²/σ²), λ strictly decreasing") {
  Fixture f;
  const at::Tensor t = at::linspace(0, 1, 401, at::kDouble);
  const at::Tensor interior = t.slice(0, 1, -1);
  for (const auto& [label, schedule, vp] : every_schedule(f)) {
    CATCH_INFO(label);
    const auto [alpha, sigma] = schedule->alpha_sigma(t);
    CATCH_REQUIRE(alpha.sizes() == t.sizes());
    CATCH_REQUIRE((alpha >= 0).all().item<bool>());
    CATCH_REQUIRE((sigma >= 0).all().item<bool>());
    if (vp) CATCH_CHECK(max_abs(alpha.square() + sigma.square() - 1) < 1e-12);
    // λ and (α, σ) describe the same process wherever both are finite.
    const auto [a, s] = schedule->alpha_sigma(interior);
    const at::Tensor lambda = schedule->logsnr(interior);
    CATCH_CHECK(max_abs(2 * (a.log() - s.log()) - lambda) < 1e-9);
    CATCH_CHECK((lambda.slice(0, 1) < lambda.slice(0, 0, -1)).all().item<bool>());
    // Endpoints: never below/above the interior (they may be ±∞: pure data, pure noise).
    CATCH_CHECK(at_t(*schedule, 0.0) > lambda[0].item<double>());
    CATCH_CHECK(at_t(*schedule, 1.0) < lambda[-1].item<double>());
    CATCH_CHECK(schedule->logsnr(t.to(at::kFloat)).scalar_type() == at::kFloat);
  }
}

CATCH_TEST_CASE("schedules: t(λ(t)) = t and λ(t(λ)) = λ") {
  Fixture f;
  const at::Tensor t = at::linspace(0.001, 0.999, 999, at::kDouble);
  for (const auto& [label, schedule, vp] : every_schedule(f)) {
    CATCH_INFO(label);
    const at::Tensor lambda = schedule->logsnr(t);
    CATCH_CHECK(max_abs(schedule->time(lambda) - t) < 1e-9);
    const at::Tensor grid =
        at::linspace(lambda[-1].item<double>(), lambda[0].item<double>(), 101, at::kDouble);
    CATCH_CHECK(max_abs(schedule->logsnr(schedule->time(grid)) - grid) < 1e-7);
  }
}

CATCH_TEST_CASE("linear: log α² = −β_min t − ½ (β_max − β_min) t² (Song et al. 2021)") {
  Fixture f;
  const auto schedule = f.make("linear");
  for (double t : {0.1, 0.5, 1.0}) {
    const double alpha2 = std::exp(-0.1 * t - 0.5 * (20.0 - 0.1) * t * t);
    CATCH_CHECK(at_t(*schedule, t) == Approx(std::log(alpha2 / (1 - alpha2))).epsilon(1e-12));
  }
  CATCH_CHECK(std::isinf(at_t(*schedule, 0.0)));
}

CATCH_TEST_CASE("cosine: λ = −2 log tan(π t / 2), clipped to [logsnr_min, logsnr_max]") {
  Fixture f;
  const auto clipped = f.make("cosine");
  CATCH_CHECK(at_t(*clipped, 0.0) == Approx(15.0).epsilon(1e-12));
  CATCH_CHECK(at_t(*clipped, 1.0) == Approx(-15.0).epsilon(1e-12));
  whatif::Options wide;
  wide.set("logsnr_min", -80.0);
  wide.set("logsnr_max", 80.0);
  const auto unclipped = f.make("cosine", wide);
  for (double t : {0.1, 0.3, 0.5, 0.9})
    CATCH_CHECK(at_t(*unclipped, t) == Approx(-2 * std::log(std::tan(kPi * t / 2))).margin(1e-12));
  // At t = 1/2 the clipped schedule is still symmetric: λ = 0.
  CATCH_CHECK(at_t(*clipped, 0.5) == Approx(0.0).margin(1e-12));
}

CATCH_TEST_CASE("shifted-cosine: the shift is log(N_base / N) over pixels (2D) and voxels (3D)") {
  Fixture f;
  const auto cosine = f.make("cosine");
  const at::Tensor t = at::linspace(0, 1, 101, at::kDouble);
  struct Case {
    std::int64_t size, base, dims;
    double n, n_base;
  };
  for (const Case& c : {Case{256, 64, 2, 256.0 * 256, 64.0 * 64},
                        Case{128, 64, 3, 128.0 * 128 * 128, 64.0 * 64 * 64},
                        Case{32, 64, 3, 32.0 * 32 * 32, 64.0 * 64 * 64}}) {
    CATCH_INFO(c.size << " vs base " << c.base << " in " << c.dims << "D");
    const auto shifted = f.make("shifted-cosine", resolution(c.size, c.base, c.dims));
    const at::Tensor shift = shifted->logsnr(t) - cosine->logsnr(t);
    CATCH_CHECK(max_abs(shift - std::log(c.n_base / c.n)) < 1e-12);
  }
  // 2 log(b/d) in 2D, 3 log(b/d) in 3D.
  CATCH_CHECK(at_t(*f.make("shifted-cosine", resolution(128, 64, 2)), 0.5) ==
              Approx(2 * std::log(0.5)).epsilon(1e-12));
  CATCH_CHECK(at_t(*f.make("shifted-cosine", resolution(128, 64, 3)), 0.5) ==
              Approx(3 * std::log(0.5)).epsilon(1e-12));
  // size = base_size leaves the cosine unchanged.
  CATCH_CHECK(max_abs(f.make("shifted-cosine", resolution(64, 64, 3))->logsnr(t) -
                      cosine->logsnr(t)) == 0.0);
}

CATCH_TEST_CASE("interpolated: t·λ_shifted(low) + (1 − t)·λ_shifted(high)") {
  Fixture f;
  whatif::Options o;
  o.set("size", std::int64_t{128});
  o.set("spatial_dims", std::int64_t{3});
  o.set("base_size_low", std::int64_t{32});
  o.set("base_size_high", std::int64_t{64});
  const auto interpolated = f.make("interpolated", o);
  const auto low = f.make("shifted-cosine", resolution(128, 32, 3));
  const auto high = f.make("shifted-cosine", resolution(128, 64, 3));
  const at::Tensor t = at::linspace(0, 1, 101, at::kDouble);
  const at::Tensor expected = t * low->logsnr(t) + (1 - t) * high->logsnr(t);
  CATCH_CHECK(max_abs(interpolated->logsnr(t) - expected) < 1e-12);
  CATCH_CHECK(at_t(*interpolated, 0.0) == Approx(15 + 3 * std::log(0.5)).epsilon(1e-12));
  CATCH_CHECK(at_t(*interpolated, 1.0) == Approx(-15 + 3 * std::log(0.25)).epsilon(1e-12));
  o.set("base_size_low", std::int64_t{128});
  CATCH_REQUIRE_THROWS_WITH(f.make("interpolated", o), Catch::Contains("base_size_low"));
}

CATCH_TEST_CASE(
    "sigmoid: α² = (v_end − sigmoid((t (end − start) + start)/τ)) / (v_end − v_start)") {
  Fixture f;
  whatif::Options o;
  o.set("start", 0.0);
  o.set("end", 3.0);
  o.set("tau", 1.1);
  const auto schedule = f.make("sigmoid", o);
  const auto sig = [](double x) { return 1 / (1 + std::exp(-x)); };
  for (double t : {0.2, 0.5, 0.8}) {
    const double alpha2 = (sig(3 / 1.1) - sig(3 * t / 1.1)) / (sig(3 / 1.1) - sig(0.0));
    const auto [alpha, sigma] = schedule->alpha_sigma(at::full({1}, t, at::kDouble));
    CATCH_CHECK(alpha.square().item<double>() == Approx(alpha2).epsilon(1e-12));
  }
}

CATCH_TEST_CASE("rectified-flow: x_t = (1 − t') x + t' ε, t' = r t / (1 + (r − 1) t)") {
  Fixture f;
  const at::Tensor t = at::linspace(0, 1, 101, at::kDouble);
  // r = (N / N_base)^(1/spatial_dims) · scale: 2 for a side twice the base, in 2D and in 3D.
  struct Case {
    std::int64_t size, base, dims;
    double scale, r;
  };
  for (const Case& c :
       {Case{64, 64, 3, 1.0, 1.0}, Case{128, 64, 2, 1.0, 2.0}, Case{128, 64, 3, 1.0, 2.0},
        Case{128, 64, 3, 1.5, 3.0}, Case{32, 64, 2, 1.0, 0.5}}) {
    CATCH_INFO("size " << c.size << " base " << c.base << " dims " << c.dims << " scale "
                       << c.scale);
    whatif::Options o = resolution(c.size, c.base, c.dims);
    o.set("scale", c.scale);
    const auto schedule = f.make("rectified-flow", o);
    const at::Tensor shifted = c.r * t / (1 + (c.r - 1) * t);
    const auto [alpha, sigma] = schedule->alpha_sigma(t);
    CATCH_CHECK(max_abs(sigma - shifted) < 1e-12);
    CATCH_CHECK(max_abs(alpha - (1 - shifted)) < 1e-12);
  }
  // r = 2 at t = 1/2: t' = 2/3.
  const auto schedule = f.make("rectified-flow", resolution(128, 64, 3));
  CATCH_CHECK(schedule->alpha_sigma(at::full({1}, 0.5, at::kDouble)).second.item<double>() ==
              Approx(2.0 / 3.0).epsilon(1e-12));
}

CATCH_TEST_CASE("edm: α = 1, σ(0) = σ_min, σ(1) = σ_max, ρ-interpolated between, λ = −2 log σ") {
  Fixture f;
  const auto schedule = f.make("edm");
  const at::Tensor t = at::tensor({0.0, 0.5, 1.0}, at::kDouble);
  const auto [alpha, sigma] = schedule->alpha_sigma(t);
  CATCH_CHECK(max_abs(alpha - 1) == 0.0);
  CATCH_CHECK(sigma[0].item<double>() == Approx(0.002).epsilon(1e-12));
  CATCH_CHECK(sigma[2].item<double>() == Approx(80.0).epsilon(1e-12));
  const double mid = std::pow(0.5 * (std::pow(0.002, 1 / 7.0) + std::pow(80.0, 1 / 7.0)), 7.0);
  CATCH_CHECK(sigma[1].item<double>() == Approx(mid).epsilon(1e-12));
  CATCH_CHECK(max_abs(schedule->logsnr(t) + 2 * sigma.log()) < 1e-12);
}

CATCH_TEST_CASE("schedules refuse bad options with the option's name") {
  Fixture f;
  CATCH_REQUIRE_THROWS_WITH(f.make("shifted-cosine", resolution(64, 64, 4)),
                            Catch::Contains("spatial_dims"));
  CATCH_REQUIRE_THROWS_WITH(f.make("rectified-flow", resolution(0, 64, 3)),
                            Catch::Contains("size"));
  whatif::Options o;
  o.set("logsnr_min", 5.0);
  o.set("logsnr_max", -5.0);
  CATCH_REQUIRE_THROWS_WITH(f.make("cosine", o), Catch::Contains("logsnr_min"));
  whatif::Options e;
  e.set("sigma_min", 100.0);
  CATCH_REQUIRE_THROWS_WITH(f.make("edm", e), Catch::Contains("sigma_max"));
}

// End to end: train a tiny 2D model on a toy distribution whose modes are known, then check its
// samples against that distribution — the modes, their frequencies, and (conditioned) the class.
#include <catch2/catch.hpp>

#include <filesystem>

#include <ATen/ATen.h>

#include "diffusion/diffusion_model.hpp"
#include "support/plugins.hpp"
#include "whatif/registry/error.hpp"

using whatif::test::make;

namespace {

WHATIF_TEST_PLUGINS("encoders", "denoisers", "schedules", "samplers", "conditioning");

// Two 8×8 templates (bright top half or bright bottom half) plus a little noise; class = parity.
at::Tensor template_of(std::int64_t cls) {
  at::Tensor t = at::full({1, 8, 8}, -0.8f);
  t.narrow(1, cls == 0 ? 0 : 4, 4).fill_(0.8f);
  return t;
}

class TwoModes : public whatif::Dataset {
 public:
  std::int64_t size() const override { return 256; }
  whatif::Example get(std::int64_t i) const override {
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(1000 + i);
    whatif::Example e;
    e.image = template_of(i % 2) + 0.05f * at::randn({1, 8, 8}, g);
    e.text = i % 2 == 0 ? "bright top" : "bright bottom";
    e.attributes["class"] = static_cast<double>(i % 2);
    return e;
  }
  std::vector<std::string> attribute_names() const override { return {"class"}; }
};

// Per sample: the nearest template and the RMS distance to it.
std::pair<at::Tensor, at::Tensor> nearest(const at::Tensor& samples) {
  const auto flat = samples.flatten(1);
  const auto d0 = (flat - template_of(0).flatten()).square().mean(1).sqrt();
  const auto d1 = (flat - template_of(1).flatten()).square().mean(1).sqrt();
  return {(d1 < d0).to(at::kLong), at::minimum(d0, d1)};
}

whatif::DiffusionParts parts(bool conditional) {
  whatif::DiffusionParts p;
  p.encoder = make<whatif::Encoder>("encoder", "identity");
  std::vector<std::string> unet{"spatial_dims=2", "channels=16,32", "attention_levels=",
                                "cross_attention_levels=", "groups=8", "heads=4"};
  // Dropout in the conditional model: sampling must switch it off, also after load.
  if (conditional) unet.insert(unet.end(), {"vector_dim=16", "dropout=0.1"});
  p.denoiser = make<whatif::Denoiser>("denoiser", "unet", unet);
  p.schedule = make<whatif::Schedule>("schedule", "cosine");
  p.sampler = make<whatif::Sampler>("sampler", "ddim");
  if (conditional)
    p.conditioning = make<whatif::Conditioning>(
        "conditioning", "attributes",
        {"categories=2", "width=16", "vector_dim=16", "context_dim=0", "dropout=0.2"});
  return p;
}

whatif::FitRequest fit_options(std::int64_t steps) {
  whatif::FitRequest o;
  o.batch_size = 32;
  o.train.steps = steps;
  o.train.lr = 3e-3;
  o.train.warmup = 20;
  o.train.ema_decay = 0.95;
  o.train.seed = 5;
  return o;
}

}  // namespace

CATCH_TEST_CASE("a tiny unconditional model reproduces both modes at their frequencies") {
  at::manual_seed(0);
  whatif::DiffusionModel model(parts(false), whatif::ProcessConfig{});
  TwoModes data;
  const auto result = model.fit(data, fit_options(300)).train;
  CATCH_REQUIRE(result.losses.back() < result.losses.front());
  whatif::GenerateRequest g;
  g.condition.count = 128;
  g.sampling.seed = 11;
  g.sampling.steps = 30;
  const at::Tensor samples = model.generate(g).volumes;
  CATCH_REQUIRE(samples.sizes() == at::IntArrayRef({128, 1, 8, 8}));
  const auto [mode, distance] = nearest(samples);
  // Data lie at RMS 0.05 from their template; the two templates are RMS 1.6 apart.
  const double close = (distance < 0.25).to(at::kDouble).mean().item<double>();
  const double top = (mode == 0).to(at::kDouble).mean().item<double>();
  CATCH_INFO("close to a template: " << close << ", top mode: " << top);
  CATCH_REQUIRE(close > 0.9);
  CATCH_REQUIRE(top > 0.3);
  CATCH_REQUIRE(top < 0.7);

  // Decoding tile by tile: exact for the identity encoder.
  g.condition.count = 4;
  const at::Tensor whole = model.generate(g).volumes;
  g.decoding.tile = 3;
  g.decoding.overlap = 1;
  CATCH_REQUIRE(model.generate(g).volumes.equal(whole));
}

CATCH_TEST_CASE("class-conditional guidance generates the requested class; fixed noise twins") {
  at::manual_seed(0);
  whatif::DiffusionModel model(parts(true), whatif::ProcessConfig{});
  TwoModes data;
  model.fit(data, fit_options(300));
  whatif::CounterfactualRequest pair;
  pair.factual.attributes.assign(48, {{"class", 0.0}});
  pair.counterfactual.attributes.assign(48, {{"class", 1.0}});
  pair.sampling.seed = 3;
  pair.sampling.steps = 30;
  pair.sampling.guidance = 2.0;
  const whatif::Pair twins = model.counterfactual(pair);
  const at::Tensor xa = twins.factual.volumes, xb = twins.counterfactual.volumes;
  const auto [mode_a, dist_a] = nearest(xa);
  const auto [mode_b, dist_b] = nearest(xb);
  const double right_a = (mode_a == 0).to(at::kDouble).mean().item<double>();
  const double right_b = (mode_b == 1).to(at::kDouble).mean().item<double>();
  CATCH_INFO("requested class generated: " << right_a << " / " << right_b);
  CATCH_REQUIRE(right_a > 0.9);
  CATCH_REQUIRE(right_b > 0.9);
  // The pair is sampled as one batch of 96; each side alone, with the same seed, gives the same
  // volumes up to float rounding (batched kernels may sum in another order): within 1e-5.
  whatif::GenerateRequest a{pair.factual, pair.sampling, {}}, b{pair.counterfactual, pair.sampling, {}};
  CATCH_REQUIRE(at::allclose(model.generate(a).volumes, xa, 0, 1e-5));
  CATCH_REQUIRE(at::allclose(model.generate(b).volumes, xb, 0, 1e-5));
  // Same seed, same condition: the deterministic sampler gives the same volume.
  CATCH_REQUIRE(model.generate(a).volumes.equal(model.generate(a).volumes));

  // Save and load into a fresh model: same samples.
  const auto path = std::filesystem::temp_directory_path() / ("whatif-toy-" + std::to_string(::getpid()) + ".h5");
  model.save(path.string());
  whatif::DiffusionModel reloaded(parts(true), whatif::ProcessConfig{});
  reloaded.load(path.string());
  std::filesystem::remove(path);
  CATCH_REQUIRE(at::allclose(reloaded.generate(a).volumes, xa, 1e-5, 1e-5));

  // Inversion: invert real class-0 images under "class 0", regenerate under "class 1".
  at::Tensor real = at::stack({data.get(0).image, data.get(2).image, data.get(4).image});
  whatif::CounterfactualRequest inversion;
  inversion.protocol = "inversion";
  inversion.source = real;
  inversion.factual.attributes.assign(3, {{"class", 0.0}});
  inversion.counterfactual.attributes.assign(3, {{"class", 1.0}});
  inversion.sampling = pair.sampling;
  inversion.sampling.guidance = 1.0;
  whatif::CounterfactualRequest null_edit = inversion;
  null_edit.counterfactual = null_edit.factual;
  const whatif::Pair unchanged = model.counterfactual(null_edit);
  CATCH_REQUIRE(unchanged.factual.volumes.equal(real));
  const at::Tensor same = unchanged.counterfactual.volumes;
  CATCH_REQUIRE(((same - real).square().mean().sqrt()).item<double>() < 0.1);  // invert + regenerate ≈ identity
  const at::Tensor edited = model.counterfactual(inversion).counterfactual.volumes;
  const auto [mode_e, dist_e] = nearest(edited);
  CATCH_REQUIRE((mode_e == 1).all().item<bool>());
}

CATCH_TEST_CASE("diffusion refuses what it cannot do") {
  whatif::DiffusionModel model(parts(false), whatif::ProcessConfig{});
  whatif::GenerateRequest g;
  g.condition.count = 1;
  CATCH_REQUIRE_THROWS_WITH(model.generate(g), Catch::Contains("image shape"));
  model.set_image_shape({1, 8, 8});
  g.condition.prompts = {"a prompt"};
  CATCH_REQUIRE_THROWS_WITH(model.generate(g), Catch::Contains("no conditioning"));
  whatif::CounterfactualRequest unknown;
  unknown.protocol = "prior-conditioned";
  CATCH_REQUIRE_THROWS_WITH(model.counterfactual(unknown), Catch::Contains("fixed-noise, inversion"));
  whatif::DiffusionParts p = parts(false);
  p.sampler = make<whatif::Sampler>("sampler", "ddpm");
  whatif::DiffusionModel stochastic(p, whatif::ProcessConfig{});
  stochastic.set_image_shape({1, 8, 8});
  whatif::CounterfactualRequest inversion;
  inversion.protocol = "inversion";
  inversion.source = at::zeros({1, 1, 8, 8});
  inversion.factual.count = inversion.counterfactual.count = 1;
  CATCH_REQUIRE_THROWS_WITH(stochastic.counterfactual(inversion), Catch::Contains("invertible"));
  whatif::ProcessConfig masked;
  masked.mask_weight = 1.0;
  whatif::DiffusionModel needs_masks(parts(false), masked);
  CATCH_REQUIRE_THROWS_WITH(needs_masks.fit(TwoModes(), fit_options(1)), Catch::Contains("has no mask"));
}

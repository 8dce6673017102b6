// The counterfactual protocols of DESIGN.md §6 on a diffusion model: fixed-noise (synthetic
// subjects: the same z_T under two conditions) and inversion (a real volume inverted to z_t under
// its factual condition, regenerated under the counterfactual one).
#include <ATen/ATen.h>

#include "diffusion/diffusion_model.hpp"
#include "whatif/registry/error.hpp"

namespace whatif {
namespace {

// The two conditions of a pair, side by side in one batch: factual rows first.
Condition concatenate(const Condition& a, const Condition& b) {
  const bool prompts = !a.prompts.empty() && !b.prompts.empty();
  const bool attributes = !a.attributes.empty() && !b.attributes.empty();
  if (!prompts && !attributes)
    throw Error("fixed-noise counterfactual: give both sides prompts, or both sides attributes");
  Condition both;
  both.prompts = a.prompts;
  both.prompts.insert(both.prompts.end(), b.prompts.begin(), b.prompts.end());
  both.attributes = a.attributes;
  both.attributes.insert(both.attributes.end(), b.attributes.begin(), b.attributes.end());
  return both;
}

Generation decoded(DiffusionModel& model, at::Tensor latents, const Decoding& decoding) {
  Generation g;
  g.volumes = model.decode(latents, decoding);
  g.latents = std::move(latents);
  return g;
}

Pair fixed_noise(DiffusionModel& model, const CounterfactualRequest& r) {
  const std::int64_t n = model.batch_of(r.factual);
  if (model.batch_of(r.counterfactual) != n)
    throw Error("fixed-noise counterfactual: the factual and counterfactual sides need as many examples");
  const Sampling& s = r.sampling;
  const at::Tensor z = model.start_noise(n, s.seed, s.t_start);
  Pair pair;
  pair.protocol = "fixed-noise";
  if (model.sampler().stochastic()) {
    // Two batches with the same generator seed: both sides draw the same sampling noise.
    pair.factual = decoded(model, model.sample(r.factual, s, z), r.decoding);
    pair.counterfactual = decoded(model, model.sample(r.counterfactual, s, z), r.decoding);
    return pair;
  }
  const at::Tensor both = model.sample(concatenate(r.factual, r.counterfactual), s, at::cat({z, z}));
  pair.factual = decoded(model, both.narrow(0, 0, n), r.decoding);
  pair.counterfactual = decoded(model, both.narrow(0, n, n), r.decoding);
  return pair;
}

Pair inversion(DiffusionModel& model, const CounterfactualRequest& r) {
  if (!r.source.defined()) throw Error("inversion counterfactual: give the source volumes");
  const at::Tensor z0 = model.encode(r.source);
  const at::Tensor zt = model.invert(r.factual, r.sampling, z0, r.strength);
  Sampling from = r.sampling;
  from.t_start = r.strength;
  Pair pair;
  pair.protocol = "inversion";
  pair.factual.volumes = r.source;
  pair.factual.latents = z0;
  pair.counterfactual = decoded(model, model.sample(r.counterfactual, from, zt), r.decoding);
  return pair;
}

}  // namespace

Pair diffusion_counterfactual(DiffusionModel& model, const CounterfactualRequest& request) {
  if (request.protocol == "fixed-noise") return fixed_noise(model, request);
  if (request.protocol == "inversion") return inversion(model, request);
  throw Error("counterfactual: protocol '" + request.protocol +
              "' is not one a diffusion model has (fixed-noise, inversion)");
}

}  // namespace whatif

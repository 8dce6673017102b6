#include "diffusion/process.hpp"

#include <ATen/ATen.h>

#include "whatif/denoiser.hpp"
#include "whatif/registry/error.hpp"
#include "whatif/schedule.hpp"

namespace whatif {
namespace {

at::Tensor per_example(const at::Tensor& v, std::int64_t dims) {
  std::vector<std::int64_t> shape{v.size(0)};
  for (std::int64_t d = 1; d < dims; ++d) shape.push_back(1);
  return v.reshape(shape);
}

at::Tensor cat_defined(const at::Tensor& a, const at::Tensor& b) {
  if (!a.defined() && !b.defined()) return {};
  if (!a.defined() || !b.defined())
    throw Error("guidance: the null condition and the condition carry different fields");
  return at::cat({a, b}, 0);
}

}  // namespace

Target parse_target(const std::string& name) {
  if (name == "eps") return Target::Eps;
  if (name == "x") return Target::X;
  if (name == "v") return Target::V;
  if (name == "flow") return Target::Flow;
  throw Error("target '" + name + "': expected eps, x, v or flow");
}

Weighting parse_weighting(const std::string& name) {
  if (name == "uniform") return Weighting::Uniform;
  if (name == "min-snr") return Weighting::MinSnr;
  if (name == "sigmoid") return Weighting::Sigmoid;
  throw Error("weighting '" + name + "': expected uniform, min-snr or sigmoid");
}

const char* to_string(Target t) {
  switch (t) {
    case Target::Eps: return "eps";
    case Target::X: return "x";
    case Target::V: return "v";
    case Target::Flow: return "flow";
  }
  return "?";
}

const char* to_string(Weighting w) {
  switch (w) {
    case Weighting::Uniform: return "uniform";
    case Weighting::MinSnr: return "min-snr";
    case Weighting::Sigmoid: return "sigmoid";
  }
  return "?";
}

NoiseScales noise_scales(const Schedule& schedule, const at::Tensor& t, std::int64_t dims) {
  const auto [alpha, sigma] = schedule.alpha_sigma(t.to(at::kDouble));
  NoiseScales n;
  const at::Tensor r = (alpha.square() + sigma.square()).sqrt();
  n.alpha = per_example(alpha, dims).to(at::kFloat);
  n.sigma = per_example(sigma, dims).to(at::kFloat);
  n.r = per_example(r, dims).to(at::kFloat);
  n.a = per_example(alpha / r, dims).to(at::kFloat);
  n.s = per_example(sigma / r, dims).to(at::kFloat);
  // At the ends of rectified flow α or σ is exactly 0: keep λ finite for the embedding.
  n.lambda = (2.0 * (alpha.clamp_min(1e-12).log() - sigma.clamp_min(1e-12).log()))
                 .clamp(-30.0, 30.0)
                 .to(at::kFloat)
                 .reshape({-1});
  return n;
}

DiffusionProcess::DiffusionProcess(ProcessConfig config, Denoiser& denoiser, const Schedule& schedule)
    : config_(config), denoiser_(denoiser), schedule_(schedule) {}

at::Tensor DiffusionProcess::clean_estimate(const at::Tensor& prediction, const at::Tensor& x_t,
                                            const NoiseScales& n) const {
  const at::Tensor p = prediction.to(at::kFloat);
  const at::Tensor z = x_t / n.r;
  switch (config_.target) {
    case Target::Eps: return (z - n.s * p) / n.a.clamp_min(1e-4);
    case Target::X: return p;
    case Target::V: return n.a * z - n.s * p;
    case Target::Flow: return (x_t - n.sigma * p) / (n.alpha + n.sigma);
  }
  return p;
}

at::Tensor DiffusionProcess::denoise(const at::Tensor& x_t, const at::Tensor& t, const Cond& cond) const {
  const NoiseScales n = noise_scales(schedule_, t, x_t.dim());
  return clean_estimate(denoiser_.forward(x_t / n.r, n.lambda, cond), x_t, n);
}

at::Tensor DiffusionProcess::loss(const at::Tensor& x0, const Cond& cond, at::Generator& generator,
                                  const at::Tensor& mask) const {
  const std::int64_t batch = x0.size(0);
  // Stratified times: one uniform offset, evenly spread over the batch (lower variance).
  const at::Tensor u = at::rand({1}, generator, at::kDouble);
  const at::Tensor t = ((at::arange(batch, at::kDouble) + u) / static_cast<double>(batch)).remainder(1.0);
  const at::Tensor eps = at::randn(x0.sizes(), generator, x0.options());
  const NoiseScales n = noise_scales(schedule_, t, x0.dim());
  const at::Tensor x_t = n.alpha * x0 + n.sigma * eps;
  const at::Tensor prediction = denoiser_.forward(x_t / n.r, n.lambda, cond).to(at::kFloat);
  at::Tensor target;
  at::Tensor factor;  // target-space MSE per unit x-space MSE
  const at::Tensor snr = (n.a.square() / n.s.square().clamp_min(1e-12)).reshape({-1});
  switch (config_.target) {
    case Target::Eps: target = eps; factor = snr; break;
    case Target::X: target = x0; factor = at::ones_like(snr); break;
    case Target::V: target = n.a * eps - n.s * x0; factor = snr + 1; break;
    case Target::Flow:
      target = eps - x0;
      factor = ((n.alpha + n.sigma) / n.sigma.clamp_min(1e-12)).square().reshape({-1});
      break;
  }
  at::Tensor error = prediction - target;
  const std::int64_t dims = x0.dim() - 2;
  const auto pool = [dims](const at::Tensor& v) { return dims == 3 ? at::avg_pool3d(v, 2) : at::avg_pool2d(v, 2); };
  // Voxel weights 1 + λ·mask (broadcast over channels), or none.
  at::Tensor voxel_weight;
  if (mask.defined() && config_.mask_weight > 0) {
    if (mask.dim() != x0.dim() || mask.size(0) != batch || mask.size(1) != 1 ||
        mask.sizes().slice(2) != x0.sizes().slice(2))
      throw Error("diffusion loss: the mask does not match the batch's shape (expected [B, 1, *spatial])");
    voxel_weight = 1.0 + config_.mask_weight * mask.to(at::kFloat);
  }
  const auto weighted_mse = [&](const at::Tensor& e) {
    const at::Tensor squared = e.square();
    return (voxel_weight.defined() ? squared * voxel_weight : squared).flatten(1).mean(1);
  };
  at::Tensor mse = weighted_mse(error);
  // Simple Diffusion's multiscale loss: the error also counts at coarser resolutions.
  for (std::int64_t scale = 1; scale <= config_.multiscale; ++scale) {
    error = pool(error);
    if (voxel_weight.defined()) voxel_weight = pool(voxel_weight);
    mse = mse + weighted_mse(error);
  }
  mse = mse / static_cast<double>(config_.multiscale + 1);
  at::Tensor weight;
  switch (config_.weighting) {
    case Weighting::Uniform: weight = at::ones_like(mse); break;
    case Weighting::MinSnr: weight = snr.clamp_max(config_.min_snr_gamma) / factor; break;
    case Weighting::Sigmoid:
      weight = at::sigmoid(config_.sigmoid_bias - n.lambda.to(at::kDouble)).to(at::kFloat) * snr / factor;
      break;
  }
  return (weight.to(mse.scalar_type()) * mse).mean();
}

Cond concat(const Cond& a, const Cond& b) {
  Cond x = a, y = b;
  // Context lengths may differ (a prompt vs the one-token null): pad the shorter with masked zeros.
  if (x.context.defined() && y.context.defined() && x.context.size(1) != y.context.size(1)) {
    const std::int64_t t = std::max(x.context.size(1), y.context.size(1));
    for (Cond* c : {&x, &y}) {
      const std::int64_t pad = t - c->context.size(1);
      if (!c->context_mask.defined())
        c->context_mask = at::ones({c->context.size(0), c->context.size(1)}, at::kBool);
      if (pad == 0) continue;
      c->context = at::constant_pad_nd(c->context, {0, 0, 0, pad});
      c->context_mask = at::constant_pad_nd(c->context_mask.to(at::kByte), {0, pad}).to(at::kBool);
    }
  }
  return Cond{cat_defined(x.context, y.context), cat_defined(x.context_mask, y.context_mask),
              cat_defined(x.vector, y.vector), cat_defined(x.spatial, y.spatial)};
}

DenoiseFn DiffusionProcess::guided(const Cond& cond, const Cond& null, double w) const {
  if (w == 1.0) return [this, cond](const at::Tensor& x, const at::Tensor& t) { return denoise(x, t, cond); };
  if (w == 0.0) return [this, null](const at::Tensor& x, const at::Tensor& t) { return denoise(x, t, null); };
  const Cond both = concat(cond, null);
  return [this, both, w](const at::Tensor& x, const at::Tensor& t) {
    const at::Tensor out = denoise(at::cat({x, x}, 0), at::cat({t, t}, 0), both);
    const auto halves = out.chunk(2, 0);
    return halves[1] + w * (halves[0] - halves[1]);
  };
}

}  // namespace whatif

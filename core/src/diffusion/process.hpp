#pragma once
// The diffusion process in continuous time, for any schedule's (α, σ): x_t = α x + σ ε.
//
// The network sees the variance-normalised input z = x_t / r, r = √(α² + σ²), so VP, rectified
// flow and EDM schedules feed it inputs of unit scale (EDM's c_in). With a = α/r and s = σ/r
// (a² + s² = 1) the targets are
//   eps:  ε            x: x            v: a ε − s x (Salimans & Ho 2022)      flow: ε − x
// and every prediction converts to the clean estimate x̂ that samplers consume.
#include <string>

#include <ATen/core/Generator.h>

#include "whatif/cond.hpp"
#include "whatif/sampler.hpp"
#include "whatif/tensor.hpp"

namespace whatif {

class Denoiser;
class Schedule;

enum class Target { Eps, X, V, Flow };
enum class Weighting { Uniform, MinSnr, Sigmoid };

Target parse_target(const std::string& name);        // eps | x | v | flow
Weighting parse_weighting(const std::string& name);  // uniform | min-snr | sigmoid
const char* to_string(Target target);
const char* to_string(Weighting weighting);

struct ProcessConfig {
  Target target = Target::V;
  Weighting weighting = Weighting::Uniform;
  double min_snr_gamma = 5.0;  // min-SNR-γ (Hang et al. 2023)
  double sigmoid_bias = -3.0;  // sigmoid weighting w(λ) = sigmoid(b − λ) in ε-space (Kingma & Gao 2023)
  std::int64_t multiscale = 0; // extra 2× average-pooled scales in the loss (Simple Diffusion)
  double mask_weight = 0.0;    // λ: a voxel inside the dataset's mask counts 1 + λ times in the loss
};

// Per-example scales at times t [B], broadcastable against x [B, C, ...].
struct NoiseScales {
  at::Tensor alpha, sigma;  // of x_t = α x + σ ε
  at::Tensor r, a, s;       // r = √(α²+σ²), a = α/r, s = σ/r
  at::Tensor lambda;        // log(α²/σ²), [B], clamped to a range the network can embed
};

NoiseScales noise_scales(const Schedule& schedule, const at::Tensor& t, std::int64_t dims);

class DiffusionProcess {
 public:
  DiffusionProcess(ProcessConfig config, Denoiser& denoiser, const Schedule& schedule);

  // Training loss of clean representations x0 [B, C, ...] under `cond`; t and ε from `generator`.
  // With `mask` [B, 1, ...] (1 inside, 0 outside, the spatial size of x0) each voxel's squared
  // error is weighted 1 + mask_weight · mask, at every multiscale level (the mask pooled alike).
  at::Tensor loss(const at::Tensor& x0, const Cond& cond, at::Generator& generator,
                  const at::Tensor& mask = {}) const;

  // x̂ from the network's raw prediction at noisy input x_t.
  at::Tensor clean_estimate(const at::Tensor& prediction, const at::Tensor& x_t,
                            const NoiseScales& scales) const;
  // The network's x̂ at (x_t, t) under `cond`.
  at::Tensor denoise(const at::Tensor& x_t, const at::Tensor& t, const Cond& cond) const;
  // Classifier-free guidance (Ho & Salimans 2022): x̂ = x̂(∅) + w (x̂(c) − x̂(∅)); w = 0 is
  // unconditional, w = 1 purely conditional. Both branches run as one batch.
  DenoiseFn guided(const Cond& cond, const Cond& null, double w) const;

  const ProcessConfig& config() const { return config_; }

 private:
  ProcessConfig config_;
  Denoiser& denoiser_;
  const Schedule& schedule_;
};

// Concatenates two conditions along the batch (undefined fields stay undefined).
Cond concat(const Cond& a, const Cond& b);

}  // namespace whatif

#pragma once
// kind `sampler`: integrates from noise to data (and, where it can, back). Every sampler has the
// same signature, k-diffusion style: a denoising function, the schedule, a start and options.
#include <cstdint>
#include <functional>
#include <optional>

#include <ATen/core/Generator.h>

#include "whatif/registry/component.hpp"
#include "whatif/tensor.hpp"

namespace whatif {

class Schedule;

// x̂(x_t, t): the model's estimate of clean data at time t (guidance already applied).
// t is a [B] tensor.
using DenoiseFn = std::function<at::Tensor(const at::Tensor& x_t, const at::Tensor& t)>;

struct SampleOptions {
  std::int64_t steps = 50;
  double t_start = 1.0;  // < 1 starts from an intermediate time (partial inversion, editing)
  double t_end = 0.0;
  std::optional<at::Generator> generator;  // for stochastic samplers
  std::function<void(std::int64_t step, std::int64_t steps)> on_step;
};

class Sampler : public Component {
 public:
  ~Sampler() override;

  // From x at t_start to x at t_end, on a uniform grid of options.steps steps in t. At t_end = 0
  // that is clean data wherever σ(0) = 0; schedules with σ(0) > 0 (cosine, edm) leave that level.
  virtual at::Tensor sample(const DenoiseFn& denoise, const Schedule& schedule, at::Tensor x,
                            const SampleOptions& options) const = 0;
  virtual bool invertible() const { return false; }
  // Draws fresh noise from options.generator while sampling (DDPM, DDIM with η > 0, churn). A
  // fixed-noise pair from a stochastic sampler is sampled as two batches with the same generator
  // seed, so both sides see the same noise; a deterministic one samples the pair as one batch.
  virtual bool stochastic() const { return false; }
  // From data x at t_end back to t_start (deterministic samplers only); throws Error otherwise.
  virtual at::Tensor invert(const DenoiseFn& denoise, const Schedule& schedule, at::Tensor x,
                            const SampleOptions& options) const;
};

}  // namespace whatif

#pragma once
// The sampler kind's built-ins, k-diffusion style: each is one short function of (denoiser,
// schedule, x, options) written in terms of the schedule's (α, σ) and the x̂ prediction.
#include <whatif/sampler.hpp>

namespace whatif_samplers {

// DDIM with stochasticity η ∈ [0, 1] (Song et al. 2021); η = 1 is ancestral DDPM sampling from
// the exact posterior (Ho et al. 2020), η = 0 is deterministic and invertible.
class DdimSampler : public whatif::Sampler {
 public:
  explicit DdimSampler(double eta);
  at::Tensor sample(const whatif::DenoiseFn& denoise, const whatif::Schedule& schedule,
                    at::Tensor x, const whatif::SampleOptions& options) const override;
  bool invertible() const override { return eta_ == 0; }
  bool stochastic() const override { return eta_ > 0; }
  at::Tensor invert(const whatif::DenoiseFn& denoise, const whatif::Schedule& schedule,
                    at::Tensor x, const whatif::SampleOptions& options) const override;

 private:
  double eta_;
};

// DPM-Solver++(2M) (Lu et al. 2022): second-order multistep exponential integrator in log-SNR.
class DpmSolverPlusPlus2MSampler : public whatif::Sampler {
 public:
  at::Tensor sample(const whatif::DenoiseFn& denoise, const whatif::Schedule& schedule,
                    at::Tensor x, const whatif::SampleOptions& options) const override;
};

// Karras et al. 2022 (EDM) Algorithm 2: the probability-flow ODE of x/α in σ̃ = σ/α, with Euler
// (first order) or Heun (second order) steps and optional churn (S_churn).
class KarrasSampler : public whatif::Sampler {
 public:
  KarrasSampler(bool second_order, double churn);
  at::Tensor sample(const whatif::DenoiseFn& denoise, const whatif::Schedule& schedule,
                    at::Tensor x, const whatif::SampleOptions& options) const override;
  bool stochastic() const override { return churn_ > 0; }

 private:
  bool second_order_;
  double churn_;
};

}  // namespace whatif_samplers

// The samplers plugin's registration (formulas and tests: docs/schedules-samplers.md).
#include <whatif/registry/plugin.hpp>
#include <whatif/registry/registry.hpp>

#include "samplers.hpp"

namespace {

using whatif::Options;
using whatif::OptionType;
using whatif::Sampler;
using namespace whatif_samplers;

const whatif::OptionSpec kChurn{"churn", OptionType::Double, 0.0,
                                "S_churn: noise re-injected per step, γ = min(churn/steps, √2−1)"};

void register_components(whatif::Registry& registry) {
  registry.add<Sampler>("sampler", "ddpm", "ancestral sampling from the exact posterior (DDPM)", {},
                        [](const Options&) { return std::make_shared<DdimSampler>(1.0); });
  registry.add<Sampler>(
      "sampler", "ddim", "DDIM; deterministic and invertible at eta = 0",
      {{"eta", OptionType::Double, 0.0, "stochasticity in [0, 1]: 0 = DDIM ODE, 1 = DDPM"}},
      [](const Options& o) { return std::make_shared<DdimSampler>(o.get_double("eta")); });
  registry.add<Sampler>(
      "sampler", "dpmpp-2m", "DPM-Solver++(2M): second-order multistep in log-SNR", {},
      [](const Options&) { return std::make_shared<DpmSolverPlusPlus2MSampler>(); });
  registry.add<Sampler>("sampler", "euler",
                        "Euler on the probability-flow ODE in σ/α (flow Euler for rectified flow)",
                        {kChurn}, [](const Options& o) {
                          return std::make_shared<KarrasSampler>(false, o.get_double("churn"));
                        });
  registry.add<Sampler>("sampler", "heun", "Heun's second-order method (EDM, Karras et al. 2022)",
                        {kChurn}, [](const Options& o) {
                          return std::make_shared<KarrasSampler>(true, o.get_double("churn"));
                        });
}

}  // namespace

WHATIF_PLUGIN("samplers", "0.1.0", register_components)

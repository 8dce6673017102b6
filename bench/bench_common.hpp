#pragma once
// What the C++ benchmarks share: flag parsing, a timed diffusion training step of any denoiser on
// random inputs of a given shape, and the process's peak resident memory.
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <string>

#include <torch/torch.h>

#include "host/host.hpp"
#include "train/autocast.hpp"
#include "whatif/denoiser.hpp"

namespace bench {

using Clock = std::chrono::steady_clock;

// Flags are `--name value` (numbers) or `--name` (switches, stored as 1). Unknown flags print
// `usage` and exit 2.
inline std::map<std::string, double> parse_flags(int argc, char** argv, std::map<std::string, double> defaults,
                                                 const std::string& usage) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const auto it = flag.rfind("--", 0) == 0 ? defaults.find(flag.substr(2)) : defaults.end();
    if (it == defaults.end()) {
      std::cerr << "usage: " << usage << "\n";
      std::exit(2);
    }
    const bool takes_value = i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) != 0;
    it->second = takes_value ? std::atof(argv[++i]) : 1.0;
  }
  return defaults;
}

// One v-prediction step under the cosine schedule on random x of `shape` ([B, C, *S]).
inline void train_step(whatif::Denoiser& net, torch::optim::Optimizer& optimizer, torch::IntArrayRef shape,
                       bool bf16, bool channels_last = false) {
  auto x = torch::randn(shape);
  if (channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast3d);
  const auto eps = torch::randn_like(x);
  const auto t = torch::rand({shape[0]});
  const auto alpha = torch::cos(M_PI * t / 2), sigma = torch::sin(M_PI * t / 2);
  const auto lambda = 2 * (alpha.clamp_min(1e-12).log() - sigma.clamp_min(1e-12).log());
  std::vector<std::int64_t> view(shape.size(), 1);
  view[0] = -1;
  const auto a = alpha.view(view), s = sigma.view(view);
  torch::Tensor loss;
  {
    whatif::AutocastGuard autocast(bf16);
    loss = (net.forward(a * x + s * eps, lambda, {}).to(torch::kFloat) - (a * eps - s * x)).square().mean();
  }
  optimizer.zero_grad();
  loss.backward();
  optimizer.step();
}

// Mean milliseconds of `steps` training steps after two untimed warm-up steps. `channels_last`
// stores 5-D weights and inputs channels-last (NDHWC).
inline double time_training(whatif::Denoiser& net, torch::IntArrayRef shape, bool bf16, int steps,
                            bool channels_last = false) {
  std::vector<torch::Tensor> params;
  for (auto& [name, p] : net.named_parameters()) {
    if (channels_last && p.dim() == 5) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast3d));
    params.push_back(p);
  }
  torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(1e-4));
  net.train(true);
  for (int i = 0; i < 2; ++i) train_step(net, optimizer, shape, bf16, channels_last);
  const auto start = Clock::now();
  for (int i = 0; i < steps; ++i) train_step(net, optimizer, shape, bf16, channels_last);
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count() / steps;
}

inline double peak_rss_mb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

}  // namespace bench

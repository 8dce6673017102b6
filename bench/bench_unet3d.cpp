// Training-step and sampling time of the reference 3D U-Net (channels 32-64-64, attention at the
// lowest level, one res-block per level, batch 2, 32³) in fp32 and bf16 autocast, with peak
// memory, next to the same network in PyTorch's Python API timed by this same command.
//
//   bench_unet3d [--steps N] [--threads T] [--no-python]
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <string>

#include <torch/torch.h>

#include "train/autocast.hpp"
#include "whatif/denoiser.hpp"
#include "whatif/registry/registry.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  int steps = 5;
  int threads = 2;
  bool python = true;
};

std::shared_ptr<whatif::Denoiser> reference_unet(whatif::Registry& registry) {
  return registry.create_as<whatif::Denoiser>(
      "denoiser", "unet",
      whatif::Options::from_strings({"spatial_dims=3", "channels=32,64,64", "res_blocks=1",
                                     "attention_levels=-1", "cross_attention_levels=-1",
                                     "bottleneck_blocks=1"}));
}

// One v-prediction step under the cosine schedule, as in bench/python/unet3d.py.
void train_step(whatif::Denoiser& net, torch::optim::Optimizer& optimizer, bool bf16) {
  const auto x = torch::randn({2, 1, 32, 32, 32});
  const auto eps = torch::randn_like(x);
  const auto t = torch::rand({2});
  const auto alpha = torch::cos(M_PI * t / 2), sigma = torch::sin(M_PI * t / 2);
  const auto lambda = 2 * (alpha.clamp_min(1e-12).log() - sigma.clamp_min(1e-12).log());
  const auto a = alpha.view({-1, 1, 1, 1, 1}), s = sigma.view({-1, 1, 1, 1, 1});
  torch::Tensor loss;
  {
    whatif::AutocastGuard autocast(bf16);
    loss = (net.forward(a * x + s * eps, lambda, {}).to(torch::kFloat) - (a * eps - s * x)).square().mean();
  }
  optimizer.zero_grad();
  loss.backward();
  optimizer.step();
}

double time_training(whatif::Denoiser& net, bool bf16, int steps) {
  std::vector<torch::Tensor> params;
  for (auto& [name, p] : net.named_parameters()) params.push_back(p);
  torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(1e-4));
  net.train(true);
  for (int i = 0; i < 2; ++i) train_step(net, optimizer, bf16);
  const auto start = Clock::now();
  for (int i = 0; i < steps; ++i) train_step(net, optimizer, bf16);
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count() / steps;
}

double time_sampling_step(whatif::Denoiser& net, bool bf16, int steps) {
  torch::InferenceMode inference;
  net.train(false);
  const auto x = torch::randn({2, 1, 32, 32, 32});
  const auto lambda = torch::zeros({2});
  whatif::AutocastGuard autocast(bf16);
  (void)net.forward(x, lambda, {});
  const auto start = Clock::now();
  for (int i = 0; i < steps; ++i) (void)net.forward(x, lambda, {});
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count() / steps;
}

std::map<std::string, double> run_python(const Args& args) {
  std::map<std::string, double> figures;
  const std::string command = "/usr/bin/python3 " + std::string(WHATIF_SOURCE_DIR) +
                              "/bench/python/unet3d.py --steps " + std::to_string(args.steps) +
                              " --threads " + std::to_string(args.threads);
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return figures;
  char line[256];
  while (fgets(line, sizeof line, pipe)) {
    char name[128];
    double value = 0;
    if (std::sscanf(line, "%127s %lf", name, &value) == 2) figures[name] = value;
  }
  if (pclose(pipe) != 0) std::cerr << "python peer failed: " << command << "\n";
  return figures;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--steps") && i + 1 < argc) args.steps = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) args.threads = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--no-python")) args.python = false;
    else {
      std::cerr << "usage: bench_unet3d [--steps N] [--threads T] [--no-python]\n";
      return 2;
    }
  }
  torch::set_num_threads(args.threads);
  torch::manual_seed(0);
  whatif::Registry registry;
  registry.load(std::string(WHATIF_PLUGIN_DIR) + "/libwhatif-plugin-denoisers.so");
  auto net = reference_unet(registry);

  const double fp32 = time_training(*net, false, args.steps);
  const double bf16 = time_training(*net, true, args.steps);
  const double sample_fp32 = time_sampling_step(*net, false, args.steps);
  const double sample_bf16 = time_sampling_step(*net, true, args.steps);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double rss_mb = static_cast<double>(usage.ru_maxrss) / 1024.0;

  std::printf("3D U-Net 32-64-64, batch 2, 32^3, %d threads, %d timed steps\n", args.threads, args.steps);
  std::printf("  C++ train step   fp32 %8.1f ms   bf16 autocast %8.1f ms   (bf16/fp32 %.2f)\n", fp32, bf16, bf16 / fp32);
  std::printf("  C++ denoise pass fp32 %8.1f ms   bf16 autocast %8.1f ms\n", sample_fp32, sample_bf16);
  std::printf("bench: unet3d_train_step_fp32 %.1f ms\n", fp32);
  std::printf("bench: unet3d_train_step_bf16 %.1f ms\n", bf16);
  std::printf("bench: unet3d_sample_step_fp32 %.1f ms\n", sample_fp32);
  std::printf("bench: unet3d_sample_step_bf16 %.1f ms\n", sample_bf16);
  std::printf("bench: unet3d_peak_rss_mb %.0f MB\n", rss_mb);
  if (args.python) {
    const auto py = run_python(args);
    if (py.count("python_unet3d_train_step_fp32") && py.count("python_unet3d_train_step_bf16")) {
      const double pf = py.at("python_unet3d_train_step_fp32"), pb = py.at("python_unet3d_train_step_bf16");
      std::printf("  Python train step fp32 %8.1f ms   pure bf16 %8.1f ms\n", pf, pb);
      std::printf("  ratio C++ bf16 / Python fp32 %.2f   C++ bf16 / Python bf16 %.2f   C++ fp32 / Python fp32 %.2f\n",
                  bf16 / pf, bf16 / pb, fp32 / pf);
      std::printf("bench: python_unet3d_train_step_fp32 %.1f ms\n", pf);
      std::printf("bench: python_unet3d_train_step_bf16 %.1f ms\n", pb);
    }
  }
  return 0;
}

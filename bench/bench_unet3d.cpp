// Training-step and sampling time of the reference 3D U-Net (channels 32-64-64, attention at the
// lowest level, one res-block per level, batch 2, 32³) in fp32 and bf16 autocast, with peak
// memory, next to the same network in PyTorch's Python API timed by this same command.
//
// Roofline: the step's FLOPs counted from the shapes its convolutions and matrix products see
// (training = 3 × forward), the achieved GFLOP/s, and the fraction of the bf16 conv3d ceiling
// measured in this same run (bench/conv_peak.hpp). --profile prints where the step's time goes by
// top-level op. --contention times the bf16 step again while one single-threaded busy process
// competes for the cores, with T and with T − 1 threads.
//
//   bench_unet3d [--steps N] [--threads T] [--no-python] [--profile] [--contention]
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "bench_common.hpp"
#include "conv_peak.hpp"
#include "op_profile.hpp"
#include "whatif/registry/registry.hpp"

namespace {

using bench::Clock;

struct Args {
  int steps = 5;
  int threads = 2;
  bool python = true;
};

constexpr std::int64_t kShape[] = {2, 1, 32, 32, 32};

std::shared_ptr<whatif::Denoiser> reference_unet(whatif::Registry& registry) {
  return registry.create_as<whatif::Denoiser>(
      "denoiser", "unet",
      whatif::Options::from_strings({"spatial_dims=3", "channels=32,64,64", "res_blocks=1",
                                     "attention_levels=-1", "cross_attention_levels=-1",
                                     "bottleneck_blocks=1"}));
}

// whatif's U-Net in MONAI's reference configuration (bench/python/monai_unet.py): 32 groups, heads
// of 32 channels at the attention level (64 channels: 2 heads).
std::shared_ptr<whatif::Denoiser> monai_config_unet(whatif::Registry& registry) {
  return registry.create_as<whatif::Denoiser>(
      "denoiser", "unet",
      whatif::Options::from_strings({"spatial_dims=3", "channels=32,64,64", "res_blocks=1", "attention_levels=-1",
                                     "cross_attention_levels=-1", "bottleneck_blocks=1", "groups=32", "heads=2"}));
}

std::int64_t parameter_count(whatif::Denoiser& net) {
  std::int64_t n = 0;
  for (auto& [name, p] : net.named_parameters()) n += p.numel();
  return n;
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

// FLOPs of one forward pass of `net` on kShape under bf16 autocast (the counts do not depend on
// the precision), and optionally the training step's time by top-level op.
double forward_flops(whatif::Denoiser& net) {
  bench::OpProfile profile;
  const auto x = torch::randn(kShape);
  const auto lambda = torch::zeros({kShape[0]});
  profile.count_flops(true);
  {
    whatif::AutocastGuard autocast(true);
    (void)net.forward(x, lambda, {});
  }
  return profile.flops();
}

void print_profile(whatif::Denoiser& net, int steps) {
  std::vector<torch::Tensor> params;
  for (auto& [name, p] : net.named_parameters()) params.push_back(p);
  torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(1e-4));
  net.train(true);
  bench::train_step(net, optimizer, kShape, true);
  bench::OpProfile profile;
  const auto start = Clock::now();
  for (int i = 0; i < steps; ++i) bench::train_step(net, optimizer, kShape, true);
  const double total = std::chrono::duration<double, std::milli>(Clock::now() - start).count() / steps;
  std::printf("  where the bf16 step's %.1f ms go (top-level ops, per step):\n", total);
  double shown = 0;
  int rows = 0;
  for (const auto& row : profile.table()) {
    if (rows++ == 14) break;
    shown += row.ms / steps;
    std::printf("    %-36s %8.1f ms %5.1f %%  %5ld calls\n", row.name.c_str(), row.ms / steps,
                100.0 * row.ms / steps / total, row.calls / steps);
  }
  std::printf("    %-36s %8.1f ms %5.1f %%\n", "(other ops and framework)", total - shown, 100.0 * (total - shown) / total);
}

// Runs `work` while a forked single-threaded process spins, and stops that process afterwards.
template <class Work>
double with_competitor(Work work) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    volatile unsigned long spin = 0;
    for (;;) spin = spin + 1;
  }
  const double result = work();
  if (pid > 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  return result;
}

std::map<std::string, double> run_python(const Args& args, const std::string& script) {
  std::map<std::string, double> figures;
  const std::string command = "/usr/bin/python3 " + std::string(WHATIF_SOURCE_DIR) + "/bench/python/" + script +
                              " --steps " + std::to_string(args.steps) + " --threads " + std::to_string(args.threads);
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
  const auto flags = bench::parse_flags(argc, argv,
                                        {{"steps", 5}, {"threads", 2}, {"no-python", 0}, {"channels-last", 0},
                                         {"profile", 0}, {"contention", 0}},
                                        "bench_unet3d [--steps N] [--threads T] [--no-python] [--channels-last] "
                                        "[--profile] [--contention]");
  Args args;
  args.steps = static_cast<int>(flags.at("steps"));
  args.threads = static_cast<int>(flags.at("threads"));
  args.python = flags.at("no-python") == 0;
  torch::set_num_threads(args.threads);
  whatif::keep_freed_memory();  // as the host does for `whatif run`
  torch::manual_seed(0);
  whatif::Registry registry;
  registry.load(std::string(WHATIF_PLUGIN_DIR) + "/libwhatif-plugin-denoisers.so");
  auto net = reference_unet(registry);

  const double fp32 = bench::time_training(*net, kShape, false, args.steps);
  const double bf16 = bench::time_training(*net, kShape, true, args.steps);
  if (flags.at("channels-last") != 0) {
    const double cl = bench::time_training(*reference_unet(registry), kShape, true, args.steps, true);
    std::printf("  C++ train step bf16, channels-last weights and input: %.1f ms (contiguous %.1f ms)\n", cl, bf16);
  }
  const double sample_fp32 = time_sampling_step(*net, false, args.steps);
  const double sample_bf16 = time_sampling_step(*net, true, args.steps);
  const double rss_mb = bench::peak_rss_mb();

  std::printf("3D U-Net 32-64-64, batch 2, 32^3, %d threads, %d timed steps\n", args.threads, args.steps);
  std::printf("  C++ train step   fp32 %8.1f ms   bf16 autocast %8.1f ms   (bf16/fp32 %.2f)\n", fp32, bf16, bf16 / fp32);
  std::printf("  C++ denoise pass fp32 %8.1f ms   bf16 autocast %8.1f ms\n", sample_fp32, sample_bf16);
  std::printf("bench: unet3d_train_step_fp32 %.1f ms\n", fp32);
  std::printf("bench: unet3d_train_step_bf16 %.1f ms\n", bf16);
  std::printf("bench: unet3d_sample_step_fp32 %.1f ms\n", sample_fp32);
  std::printf("bench: unet3d_sample_step_bf16 %.1f ms\n", sample_bf16);
  std::printf("bench: unet3d_peak_rss_mb %.0f MB\n", rss_mb);

  // Roofline against the conv3d ceiling measured now, on the same threads.
  const double step_flops = 3.0 * forward_flops(*net);
  const double peak = bench::conv_peak_gflops(true, args.steps);
  const double achieved = step_flops / (bf16 / 1e3) / 1e9;
  std::printf("  roofline: %.1f GFLOP per training step (3 × forward), bf16 %.1f GFLOP/s of a %.1f GFLOP/s conv3d "
              "ceiling (%.0f %%)\n", step_flops / 1e9, achieved, peak, 100.0 * achieved / peak);
  std::printf("bench: unet3d_train_step_gflop %.2f GFLOP\n", step_flops / 1e9);
  std::printf("bench: unet3d_bf16_gflops %.1f GFLOP/s\n", achieved);
  std::printf("bench: conv3d_peak_bf16 %.1f GFLOP/s\n", peak);
  std::printf("bench: unet3d_bf16_fraction_of_conv_peak %.2f\n", achieved / peak);
  if (flags.at("profile") != 0) print_profile(*net, args.steps);
  if (flags.at("contention") != 0) {
    const double contended = with_competitor([&] { return bench::time_training(*net, kShape, true, args.steps); });
    torch::set_num_threads(std::max(1, args.threads - 1));
    const double fewer = with_competitor([&] { return bench::time_training(*net, kShape, true, args.steps); });
    torch::set_num_threads(args.threads);
    std::printf("  one competing busy process: bf16 step %.1f ms with %d threads (%.2f × quiet), %.1f ms with %d "
                "(%.2f × quiet)\n", contended, args.threads, contended / bf16, fewer, std::max(1, args.threads - 1),
                fewer / bf16);
    std::printf("bench: unet3d_train_step_bf16_contended %.1f ms\n", contended);
    std::printf("bench: unet3d_train_step_bf16_contended_fewer_threads %.1f ms\n", fewer);
  }
  if (args.python) {
    const auto py = run_python(args, "unet3d.py");
    if (py.count("python_unet3d_train_step_fp32") && py.count("python_unet3d_train_step_bf16")) {
      const double pf = py.at("python_unet3d_train_step_fp32"), pb = py.at("python_unet3d_train_step_bf16");
      std::printf("  Python train step fp32 %8.1f ms   pure bf16 %8.1f ms\n", pf, pb);
      std::printf("  ratio C++ bf16 / Python fp32 %.2f   C++ bf16 / Python bf16 %.2f   C++ fp32 / Python fp32 %.2f\n",
                  bf16 / pf, bf16 / pb, fp32 / pf);
      std::printf("bench: python_unet3d_train_step_fp32 %.1f ms\n", pf);
      std::printf("bench: python_unet3d_train_step_bf16 %.1f ms\n", pb);
    }
  }
  if (args.python) {
    // Equal work against the strongest peer: MONAI's reference configuration, layer for layer.
    auto monai = monai_config_unet(registry);
    const double ours = bench::time_training(*monai, kShape, true, args.steps);
    const auto py = run_python(args, "monai_unet.py");
    std::printf("  MONAI configuration: whatif %lld parameters, bf16 step %.1f ms\n",
                static_cast<long long>(parameter_count(*monai)), ours);
    std::printf("bench: unet3d_monai_config_params %lld\n", static_cast<long long>(parameter_count(*monai)));
    std::printf("bench: unet3d_monai_config_train_step_bf16 %.1f ms\n", ours);
    if (py.count("python_monai_config_train_step_fp32") && py.count("python_monai_config_train_step_bf16")) {
      const double pf = py.at("python_monai_config_train_step_fp32"), pb = py.at("python_monai_config_train_step_bf16");
      std::printf("  Python (MONAI's network, %.0f parameters) fp32 %.1f ms, pure bf16 %.1f ms: whatif bf16 is %.2f× "
                  "its fp32 and %.2f× its bf16\n", py.count("python_monai_config_params") ? py.at("python_monai_config_params") : 0.0,
                  pf, pb, ours / pf, ours / pb);
      std::printf("bench: python_monai_config_train_step_fp32 %.1f ms\n", pf);
      std::printf("bench: python_monai_config_train_step_bf16 %.1f ms\n", pb);
    }
  }
  return 0;
}

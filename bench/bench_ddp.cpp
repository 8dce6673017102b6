// Data-parallel training on this machine: a step of the reference 3D U-Net (32-64-64, 32³) through
// the common trainer at global batch 4, by one process (two micro-batches of 2, all threads) and
// by two ranks on loopback (one micro-batch of 2 each, threads split between them), and the Gloo
// all-reduce bandwidth between the two ranks. Reference: the one-process step.
//
// usage: bench_ddp [--steps N] [--threads T] [--mb M]
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "bench_common.hpp"
#include "train/distributed.hpp"
#include "whatif/registry/registry.hpp"
#include "whatif/trainer.hpp"

namespace {

using bench::Clock;

std::shared_ptr<whatif::Denoiser> reference_unet() {
  static whatif::Registry registry;
  static const bool loaded = (registry.load(std::string(WHATIF_PLUGIN_DIR) + "/libwhatif-plugin-denoisers.so"), true);
  (void)loaded;
  return registry.create_as<whatif::Denoiser>(
      "denoiser", "unet",
      whatif::Options::from_strings({"spatial_dims=3", "channels=32,64,64", "res_blocks=1", "attention_levels=-1",
                                     "cross_attention_levels=-1", "bottleneck_blocks=1"}));
}

// Mean ms per optimizer step after one warm-up step: global batch 4 as `accumulate` micro-batches
// of 4 / accumulate, shared by the ranks of the current group (if any). Also the gradient bytes.
double time_steps(int steps, std::int64_t accumulate, double* gradient_mb) {
  auto net = reference_unet();
  whatif::TrainConfig config;
  config.steps = steps + 1;
  config.accumulate = accumulate;
  config.warmup = 1;
  config.lr = 1e-4;
  config.ema_decay = 0;
  config.label = "bench";
  whatif::Trainer trainer(config, {{"denoiser", net.get()}});
  const std::int64_t micro_batch = 4 / accumulate;
  std::vector<Clock::time_point> began(static_cast<std::size_t>(steps + 2));
  std::int64_t first_seen = -1;
  trainer.fit([&](std::int64_t step, std::int64_t micro, at::Generator& generator, std::map<std::string, double>&) {
    if (step != first_seen) {
      began[static_cast<std::size_t>(step)] = Clock::now();
      first_seen = step;
    }
    (void)micro;
    const auto x = at::randn({micro_batch, 1, 32, 32, 32}, generator);
    const auto eps = at::randn(x.sizes(), generator);
    const auto t = at::rand({micro_batch}, generator);
    const auto alpha = at::cos(M_PI * t / 2).view({-1, 1, 1, 1, 1}), sigma = at::sin(M_PI * t / 2).view({-1, 1, 1, 1, 1});
    const auto lambda = 2 * (alpha.clamp_min(1e-12).log() - sigma.clamp_min(1e-12).log()).reshape({-1});
    return (net->forward(alpha * x + sigma * eps, lambda, {}) - (alpha * eps - sigma * x)).square().mean();
  });
  began[static_cast<std::size_t>(steps + 1)] = Clock::now();
  if (gradient_mb) {
    double bytes = 0;
    for (const auto& [name, p] : net->named_parameters()) bytes += static_cast<double>(p.numel() * p.element_size());
    *gradient_mb = bytes / 1e6;
  }
  return std::chrono::duration<double, std::milli>(began[static_cast<std::size_t>(steps + 1)] - began[1]).count() / steps;
}

// One rank of the two-rank run: prints its figures for the parent to read.
int child(int steps, double megabytes) {
  whatif::DataParallel::start(whatif::rank_environment());
  whatif::DataParallel& group = *whatif::DataParallel::current();
  const double step_ms = time_steps(steps, 2, nullptr);
  const at::Tensor buffer = at::ones({static_cast<std::int64_t>(megabytes * 1e6 / 4)}, at::kFloat);
  group.all_reduce_sum({buffer}, "bench buffer");
  const int rounds = 5;
  const auto start = Clock::now();
  for (int i = 0; i < rounds; ++i) group.all_reduce_sum({buffer}, "bench buffer");
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count() / rounds;
  std::printf("ddp_step_ms_2ranks %.3f\nallreduce_ms %.3f\nallreduce_gbps %.4f\n", step_ms, seconds * 1e3,
              megabytes / 1e3 / seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (std::getenv("WHATIF_BENCH_DDP_CHILD")) {
    const int steps = std::atoi(std::getenv("WHATIF_BENCH_DDP_CHILD"));
    at::set_num_threads(std::atoi(std::getenv("WHATIF_THREADS")));
    return child(steps, std::atof(std::getenv("WHATIF_BENCH_DDP_MB")));
  }
  const auto flags = bench::parse_flags(argc, argv, {{"steps", 4}, {"threads", 2}, {"mb", 64}},
                                        "bench_ddp [--steps N] [--threads T] [--mb M]");
  const int steps = static_cast<int>(flags.at("steps")), threads = static_cast<int>(flags.at("threads"));
  at::set_num_threads(threads);
  double gradient_mb = 0;
  const double one = time_steps(steps, 2, &gradient_mb);
  // Two ranks: this executable again, as RANK 0 and 1 on loopback, threads split between them.
  const int port = 20000 + static_cast<int>(::getpid() % 20000);
  const std::string self = std::string("/proc/") + std::to_string(::getpid()) + "/exe";
  std::vector<FILE*> ranks;
  for (int rank = 0; rank < 2; ++rank) {
    const std::string command = "RANK=" + std::to_string(rank) + " WORLD_SIZE=2 LOCAL_WORLD_SIZE=2 MASTER_ADDR=127.0.0.1" +
                                " MASTER_PORT=" + std::to_string(port) + " WHATIF_THREADS=" +
                                std::to_string(std::max(1, threads / 2)) + " WHATIF_BENCH_DDP_CHILD=" +
                                std::to_string(steps) + " WHATIF_BENCH_DDP_MB=" + std::to_string(flags.at("mb")) +
                                " " + self;
    ranks.push_back(popen(command.c_str(), "r"));
  }
  std::map<std::string, double> figures;
  char line[256];
  while (fgets(line, sizeof line, ranks[0])) {
    char name[128];
    double value = 0;
    if (std::sscanf(line, "%127s %lf", name, &value) == 2) figures[name] = value;
  }
  for (FILE* f : ranks) pclose(f);
  std::printf("reference 3D U-Net (32-64-64, 32^3), global batch 4, %d threads in all, %.1f MB of gradients\n", threads,
              gradient_mb);
  std::printf("  1 process, 2 micro-batches of 2:   %8.1f ms/step\n", one);
  if (figures.count("ddp_step_ms_2ranks")) {
    const double two = figures["ddp_step_ms_2ranks"];
    std::printf("  2 ranks x 1 micro-batch of 2:      %8.1f ms/step (%.2fx the 1-process step)\n", two, two / one);
    std::printf("  Gloo all-reduce of %.0f MB:          %8.1f ms, %.3f GB/s\n", flags.at("mb"),
                figures["allreduce_ms"], figures["allreduce_gbps"]);
  } else {
    std::printf("  the two-rank run failed\n");
  }
  std::printf("bench: ddp_step_ms_1rank %.3f ms\n", one);
  if (figures.count("ddp_step_ms_2ranks")) {
    std::printf("bench: ddp_step_ms_2ranks %.3f ms\n", figures["ddp_step_ms_2ranks"]);
    std::printf("bench: allreduce_gbps %.4f GB/s\n", figures["allreduce_gbps"]);
  }
  std::printf("bench: ddp_gradient_mb %.3f MB\n", gradient_mb);
  return figures.count("ddp_step_ms_2ranks") ? 0 : 1;
}

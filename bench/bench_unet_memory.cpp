// Peak memory against time of the reference 3D U-Net's bf16 training step at 64³ and 128³, batch
// 1 and 2, with attention at the lowest level or none, with and without activation checkpointing. Each configuration runs in a process of its
// own (this executable again, with --one), so each peak is that configuration's alone.
//
//   bench_unet_memory [--steps N] [--threads T] [--max-size S]
//   bench_unet_memory --one --size S --batch B [--checkpointing] [--steps N] [--threads T]
#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench_common.hpp"
#include "whatif/registry/registry.hpp"

namespace {

std::shared_ptr<whatif::Denoiser> reference_unet(whatif::Registry& registry, bool checkpointing, bool attention) {
  return registry.create_as<whatif::Denoiser>(
      "denoiser", "unet",
      whatif::Options::from_strings({"spatial_dims=3", "channels=32,64,64", "res_blocks=1",
                                     attention ? "attention_levels=-1" : "attention_levels=", "cross_attention_levels=-1",
                                     "bottleneck_blocks=1",
                                     std::string("checkpointing=") + (checkpointing ? "true" : "false")}));
}

int run_one(int size, int batch, bool checkpointing, bool attention, int steps) {
  whatif::keep_freed_memory();
  torch::manual_seed(0);
  whatif::Registry registry;
  registry.load(std::string(WHATIF_PLUGIN_DIR) + "/libwhatif-plugin-denoisers.so");
  auto net = reference_unet(registry, checkpointing, attention);
  const std::array<std::int64_t, 5> shape{batch, 1, size, size, size};
  const double ms = bench::time_training(*net, shape, true, steps);
  std::printf("%.1f %.0f\n", ms, bench::peak_rss_mb());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = bench::parse_flags(
      argc, argv, {{"steps", 2}, {"threads", 2}, {"max-size", 128}, {"one", 0}, {"size", 64}, {"batch", 1},
                   {"checkpointing", 0}, {"no-attention", 0}},
      "bench_unet_memory [--steps N] [--threads T] [--max-size S] | --one --size S --batch B [--checkpointing]");
  const int steps = static_cast<int>(flags.at("steps")), threads = static_cast<int>(flags.at("threads"));
  torch::set_num_threads(threads);
  if (flags.at("one") != 0)
    return run_one(static_cast<int>(flags.at("size")), static_cast<int>(flags.at("batch")),
                   flags.at("checkpointing") != 0, flags.at("no-attention") == 0, steps);

  // popen's shell would be /proc/self/exe in the child: resolve this executable first.
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::printf("3D U-Net 32-64-64, bf16 training step, %d threads, %d timed steps after 2 warm-up steps\n", threads,
              steps);
  std::printf("  %-6s %-6s %-22s %-14s %12s %14s\n", "size", "batch", "attention", "checkpointing", "step ms",
              "peak RSS MB");
  struct Config {
    int size, batch;
    bool attention;
  };
  // Attention at the lowest of 3 levels runs over (size/4)³ positions: 4096 at 64³ (cost ∝ square),
  // 32768 at 128³ (a 4 GiB score matrix per head): 128³ is measured without it.
  // 32³ rows are the scale for the rest: 64³ is 8× the voxels.
  const std::vector<Config> configs{{32, 2, true},  {32, 2, false},  {64, 1, true},
                                    {64, 2, true},  {64, 2, false},  {128, 1, false}};
  for (const auto& c : configs) {
    if (c.size > flags.at("max-size")) continue;
    double plain_mb = 0;
    for (const bool checkpointing : {false, true}) {
      const std::string command = self + " --one --size " + std::to_string(c.size) + " --batch " +
                                  std::to_string(c.batch) + (checkpointing ? " --checkpointing" : "") +
                                  (c.attention ? "" : " --no-attention") + " --steps " + std::to_string(steps) +
                                  " --threads " + std::to_string(threads) + " 2>/dev/null";
      FILE* pipe = popen(command.c_str(), "r");
      double ms = 0, mb = 0;
      if (!pipe || std::fscanf(pipe, "%lf %lf", &ms, &mb) != 2) {
        std::fprintf(stderr, "bench_unet_memory: %s failed\n", command.c_str());
        return 1;
      }
      pclose(pipe);
      const std::string attention = c.attention ? "lowest level (" + std::to_string(c.size / 4) + "³)" : "none";
      std::printf("  %-6d %-6d %-22s %-14s %12.1f %14.0f\n", c.size, c.batch, attention.c_str(),
                  checkpointing ? "yes" : "no", ms, mb);
      // Batch 2 with attention is bench_unet3d's reference configuration: its names carry neither.
      const std::string name = "unet" + std::to_string(c.size) + (c.batch == 2 ? "" : "_b" + std::to_string(c.batch)) +
                               (c.attention ? "" : "_no_attention");
      std::printf("bench: %s_train_step_bf16%s %.1f ms\n", name.c_str(), checkpointing ? "_checkpointed" : "", ms);
      std::printf("bench: %s%s_peak_mb %.0f MB\n", name.c_str(), checkpointing ? "_checkpointed" : "", mb);
      if (!checkpointing) plain_mb = mb;
      if (checkpointing) std::printf("  checkpointing keeps %.0f %% of the peak\n", 100.0 * mb / plain_mb);
    }
  }
  return 0;
}

// Peak memory and time of decoding one 128³ volume (a 4×32³ latent) with the default 3D kl-vae,
// whole and tiled. Each decode runs in a fresh child process (this executable with --child), which
// resets its high-water mark after building the model (/proc/self/clear_refs) and reports VmHWM
// after decoding: the peak resident memory of the decode, including the process's libraries and
// weights, which are the same for both.
//
//   bench_vae_decode [--threads T] [--tile N] [--overlap N]     (tile and overlap in latent voxels)
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include <unistd.h>

#include <torch/torch.h>

#include "diffusion/tiling.hpp"
#include "host/host.hpp"
#include "whatif/encoder.hpp"
#include "whatif/registry/registry.hpp"

namespace {

struct Args {
  int threads = 2;
  std::int64_t tile = 16;
  std::int64_t overlap = 8;
  std::string child;  // "whole" or "tiled" in a child process
};

double status_mb(const std::string& key) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind(key + ":", 0) == 0) return std::stod(line.substr(key.size() + 1)) / 1024.0;
  return -1;
}

int run_child(const Args& args) {
  torch::set_num_threads(args.threads);
  whatif::keep_freed_memory();  // as the host does for `whatif run`
  torch::manual_seed(0);
  whatif::Registry registry;
  registry.load(std::string(WHATIF_PLUGIN_DIR) + "/libwhatif-plugin-encoders.so");
  auto vae = registry.create_as<whatif::Encoder>("encoder", "kl-vae", whatif::Options::from_strings({"spatial_dims=3"}));
  vae->train(false);
  const auto z = torch::randn({1, 4, 32, 32, 32});
  std::ofstream("/proc/self/clear_refs") << "5";  // VmHWM := current RSS
  const double baseline = status_mb("VmRSS");
  const auto start = std::chrono::steady_clock::now();
  at::Tensor x;
  {
    torch::InferenceMode inference;
    x = args.child == "whole" ? vae->decode(z) : whatif::tiled_decode(*vae, z, whatif::Tiling{args.tile, args.overlap});
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const double peak = status_mb("VmHWM");
  if (x.sizes() != torch::IntArrayRef({1, 1, 128, 128, 128})) {
    std::cerr << "unexpected output shape " << x.sizes() << "\n";
    return 1;
  }
  std::printf("peak_mb %.1f\nbaseline_mb %.1f\nms %.1f\n", peak, baseline, ms);
  return 0;
}

std::map<std::string, double> spawn(const Args& args, const std::string& mode) {
  std::map<std::string, double> figures;
  const std::string command = "/proc/" + std::to_string(getpid()) + "/exe --child " + mode + " --threads " +
                              std::to_string(args.threads) + " --tile " + std::to_string(args.tile) +
                              " --overlap " + std::to_string(args.overlap);
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return figures;
  char line[256];
  while (fgets(line, sizeof line, pipe)) {
    char name[128];
    double value = 0;
    if (std::sscanf(line, "%127s %lf", name, &value) == 2) figures[name] = value;
  }
  if (pclose(pipe) != 0) figures.clear();
  return figures;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) args.threads = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--tile") && i + 1 < argc) args.tile = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--overlap") && i + 1 < argc) args.overlap = std::atoll(argv[++i]);
    else if (!std::strcmp(argv[i], "--child") && i + 1 < argc) args.child = argv[++i];
    else {
      std::cerr << "usage: bench_vae_decode [--threads T] [--tile N] [--overlap N]\n";
      return 2;
    }
  }
  if (!args.child.empty()) return run_child(args);

  const auto whole = spawn(args, "whole");
  const auto tiled = spawn(args, "tiled");
  if (!whole.count("peak_mb") || !tiled.count("peak_mb")) {
    std::cerr << "bench_vae_decode: a child decode failed\n";
    return 1;
  }
  std::printf("kl-vae decode of 128^3 (latent 4x32^3, default 3D options), %d threads\n", args.threads);
  std::printf("  whole          peak %8.0f MB (before decoding %6.0f MB)  %8.0f ms\n", whole.at("peak_mb"),
              whole.at("baseline_mb"), whole.at("ms"));
  std::printf("  tiled %2lld/%-2lld    peak %8.0f MB (before decoding %6.0f MB)  %8.0f ms\n",
              static_cast<long long>(args.tile), static_cast<long long>(args.overlap), tiled.at("peak_mb"),
              tiled.at("baseline_mb"), tiled.at("ms"));
  std::printf("  tiled / whole: peak %.2f, decode memory above baseline %.2f, time %.2f\n",
              tiled.at("peak_mb") / whole.at("peak_mb"),
              (tiled.at("peak_mb") - tiled.at("baseline_mb")) / (whole.at("peak_mb") - whole.at("baseline_mb")),
              tiled.at("ms") / whole.at("ms"));
  std::printf("bench: decode128_tiled_peak_mb %.0f MB\n", tiled.at("peak_mb"));
  std::printf("bench: decode128_whole_peak_mb %.0f MB\n", whole.at("peak_mb"));
  std::printf("bench: decode128_tiled_over_whole_peak %.3f ratio\n", tiled.at("peak_mb") / whole.at("peak_mb"));
  std::printf("bench: decode128_tiled_ms %.0f ms\n", tiled.at("ms"));
  std::printf("bench: decode128_whole_ms %.0f ms\n", whole.at("ms"));
  return 0;
}

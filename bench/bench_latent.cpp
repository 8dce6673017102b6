// Latent vs pixel diffusion training step at the same output size (32³ and 64³): the same U-Net
// (channels 32-64-64, one res-block per level, no attention, batch 2, bf16 autocast) on the image
// [2, 1, S³] and on the default kl-vae's cached latents [2, 4, (S/4)³]. The latent step reads
// cached latents (the latent cache), so it does not encode; the one-time encoding cost per
// example is printed beside it.
//
//   bench_latent [--steps N] [--threads T] [--fp32]
#include <cstdio>

#include "bench_common.hpp"
#include "whatif/encoder.hpp"
#include "whatif/registry/registry.hpp"

namespace {

std::shared_ptr<whatif::Denoiser> unet(whatif::Registry& registry, std::int64_t channels) {
  return registry.create_as<whatif::Denoiser>(
      "denoiser", "unet",
      whatif::Options::from_strings({"spatial_dims=3", "in_channels=" + std::to_string(channels),
                                     "channels=32,64,64", "res_blocks=1", "attention_levels=-1",
                                     "cross_attention_levels=-1"}));
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = bench::parse_flags(argc, argv, {{"steps", 3}, {"threads", 2}, {"fp32", 0}},
                                        "bench_latent [--steps N] [--threads T] [--fp32]");
  const int steps = static_cast<int>(flags.at("steps"));
  const int threads = static_cast<int>(flags.at("threads"));
  const bool bf16 = flags.at("fp32") == 0;
  torch::set_num_threads(threads);
  whatif::keep_freed_memory();  // as the host does for `whatif run`
  torch::manual_seed(0);
  whatif::Registry registry;
  registry.load(std::string(WHATIF_PLUGIN_DIR) + "/libwhatif-plugin-denoisers.so");
  registry.load(std::string(WHATIF_PLUGIN_DIR) + "/libwhatif-plugin-encoders.so");
  auto vae = registry.create_as<whatif::Encoder>("encoder", "kl-vae", whatif::Options::from_strings({"spatial_dims=3"}));
  vae->train(false);

  std::printf("U-Net 32-64-64, batch 2, %s, %d threads, %d timed steps\n", bf16 ? "bf16 autocast" : "fp32",
              threads, steps);
  for (const std::int64_t size : {32, 64}) {
    const auto latent_shape = vae->latent_shape({1, size, size, size});
    const std::int64_t pixel_shape[] = {2, 1, size, size, size};
    std::vector<std::int64_t> latent{2};
    latent.insert(latent.end(), latent_shape.begin(), latent_shape.end());
    const double pixel = bench::time_training(*unet(registry, 1), pixel_shape, bf16, steps);
    const double latent_ms = bench::time_training(*unet(registry, latent_shape[0]), latent, bf16, steps);
    double encode_ms = 0;
    {
      torch::InferenceMode inference;
      const auto x = torch::randn({1, 1, size, size, size});
      (void)vae->encode(x);
      const auto start = bench::Clock::now();
      (void)vae->encode(x);
      encode_ms = std::chrono::duration<double, std::milli>(bench::Clock::now() - start).count();
    }
    std::printf("  output %ld^3: pixel step %8.1f ms   latent step (%ldx%ld^3) %8.1f ms   pixel/latent %.1fx   "
                "(kl-vae encoding, once per example: %.1f ms)\n",
                static_cast<long>(size), pixel, static_cast<long>(latent_shape[0]), static_cast<long>(latent_shape[1]),
                latent_ms, pixel / latent_ms, encode_ms);
    std::printf("bench: pixel_train_step_%ld %.1f ms\n", static_cast<long>(size), pixel);
    std::printf("bench: latent_train_step_%ld %.1f ms\n", static_cast<long>(size), latent_ms);
  }
  std::printf("bench: latent_bench_peak_rss_mb %.0f MB\n", bench::peak_rss_mb());
  return 0;
}

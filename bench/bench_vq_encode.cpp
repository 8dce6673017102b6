// Tokenization throughput of 32³ volumes: the default 3D vq-vae (widths 32-64-64, downsample 4,
// codebook 512 × 8, so one volume is an 8³ grid of 512 ids) against the default 3D kl-vae's encode
// (the same widths, 4 latent channels) on the same batches in the same run. Both run in fp32 under
// InferenceMode, alternating, and the medians of the batch times give the rates. The encoders
// differ only in their last convolution and the vq-vae's nearest-code search.
//
//   bench_vq_encode [--batch B] [--reps N] [--threads T]
#include <algorithm>
#include <cstdio>
#include <vector>

#include "bench_common.hpp"
#include "whatif/encoder.hpp"
#include "whatif/registry/registry.hpp"

namespace {

// Seconds of one call of `fn` on `x`.
template <class Fn>
double seconds(const Fn& fn, const torch::Tensor& x) {
  const auto start = bench::Clock::now();
  (void)fn(x);
  return std::chrono::duration<double>(bench::Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const auto flags = bench::parse_flags(argc, argv, {{"batch", 4}, {"reps", 7}, {"threads", 2}},
                                        "bench_vq_encode [--batch B] [--reps N] [--threads T]");
  const auto batch = static_cast<std::int64_t>(flags.at("batch"));
  const int reps = static_cast<int>(flags.at("reps"));
  const int threads = static_cast<int>(flags.at("threads"));
  torch::set_num_threads(threads);
  whatif::keep_freed_memory();  // as the host does for `whatif run`
  torch::manual_seed(0);
  whatif::Registry registry;
  registry.load(std::string(WHATIF_PLUGIN_DIR) + "/libwhatif-plugin-encoders.so");
  auto vq = registry.create_as<whatif::Encoder>("encoder", "vq-vae", whatif::Options::from_strings({"spatial_dims=3"}));
  auto kl = registry.create_as<whatif::Encoder>("encoder", "kl-vae", whatif::Options::from_strings({"spatial_dims=3"}));
  vq->train(false);
  kl->train(false);
  const auto x = torch::rand({batch, 1, 32, 32, 32});

  const auto tokenize = [&](const torch::Tensor& v) { return vq->tokenize(v); };
  const auto encode = [&](const torch::Tensor& v) { return kl->encode(v); };
  // One untimed warm-up each, then the two alternate so that load on the machine hits both alike;
  // the medians of the batch times give the rates.
  std::vector<double> vq_s, kl_s;
  {
    torch::InferenceMode inference;
    seconds(tokenize, x);
    seconds(encode, x);
    for (int i = 0; i < reps; ++i) {
      vq_s.push_back(seconds(tokenize, x));
      kl_s.push_back(seconds(encode, x));
    }
  }
  const double vq_rate = static_cast<double>(batch) / median(vq_s);
  const double kl_rate = static_cast<double>(batch) / median(kl_s);
  const auto grid = vq->latent_shape({1, 32, 32, 32});
  std::printf("32^3 volumes, batch %ld, %d reps, %d threads, fp32\n", static_cast<long>(batch), reps, threads);
  std::printf("  vq-vae tokenize (codebook %ld, %ldx%ldx%ld ids) %8.2f volumes/s\n",
              static_cast<long>(vq->codebook_size()), static_cast<long>(grid[1]), static_cast<long>(grid[2]),
              static_cast<long>(grid[3]), vq_rate);
  std::printf("  kl-vae encode (reference)                    %8.2f volumes/s\n", kl_rate);
  std::printf("  vq tokenize / kl encode: %.2f\n", vq_rate / kl_rate);
  std::printf("bench: vq_encode_per_s_32 %.2f volumes/s\n", vq_rate);
  std::printf("bench: kl_encode_per_s_32 %.2f volumes/s\n", kl_rate);
  std::printf("bench: vq_over_kl_encode_32 %.3f ratio\n", vq_rate / kl_rate);
  return 0;
}

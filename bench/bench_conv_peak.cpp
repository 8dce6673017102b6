// The bf16 and fp32 conv3d ceilings (bench/conv_peak.hpp) that bench_unet3d's roofline divides by
// (and the bf16 rate of the same layer at 64³),
// and a check of bench/op_profile.hpp's FLOP count against the closed form for that layer and for
// a matrix product.
//
//   bench_conv_peak [--steps N] [--threads T]
#include <algorithm>
#include <cstdio>

#include "bench_common.hpp"
#include "conv_peak.hpp"
#include "op_profile.hpp"

int main(int argc, char** argv) {
  const auto flags = bench::parse_flags(argc, argv, {{"steps", 5}, {"threads", 2}},
                                        "bench_conv_peak [--steps N] [--threads T]");
  torch::set_num_threads(static_cast<int>(flags.at("threads")));
  const int steps = static_cast<int>(flags.at("steps"));
  {
    torch::NoGradGuard no_grad;
    torch::nn::Conv3d conv(torch::nn::Conv3dOptions(64, 32, 3).padding(1).stride(2));
    torch::nn::Linear linear(48, 80);
    const auto x = torch::randn({2, 64, 16, 16, 16});
    const auto tokens = torch::randn({3, 5, 48});
    bench::OpProfile profile;
    profile.count_flops(true);
    (void)conv->forward(x);
    (void)linear->forward(tokens);
    (void)torch::bmm(tokens, tokens.transpose(1, 2));
    const double expected = 2.0 * (2 * 32 * 8 * 8 * 8) * (64 * 27) + 2.0 * (3 * 5) * 48 * 80 + 2.0 * 3 * 5 * 48 * 5;
    std::printf("  FLOP count of a strided conv3d, a linear layer and a bmm: %.0f counted, %.0f by hand (%s)\n",
                profile.flops(), expected, profile.flops() == expected ? "equal" : "DIFFERENT");
  }
  const double fp32 = bench::conv_peak_gflops(false, steps);
  const double bf16 = bench::conv_peak_gflops(true, steps);
  std::printf("conv3d 64→64, 3×3×3, [2, 64, 32³], forward + backward, %d threads\n", static_cast<int>(flags.at("threads")));
  std::printf("  fp32 %.1f GFLOP/s   bf16 autocast %.1f GFLOP/s   (bf16/fp32 %.2f)\n", fp32, bf16, bf16 / fp32);
  std::printf("bench: conv3d_peak_fp32 %.1f GFLOP/s\n", fp32);
  std::printf("bench: conv3d_peak_bf16 %.1f GFLOP/s\n", bf16);
  // The same layer on 8× the voxels: does the kernel keep its rate when activations leave the cache?
  const double bf16_64 = bench::conv_peak_gflops(true, std::max(1, steps / 2), 64);
  std::printf("  at 64³: bf16 autocast %.1f GFLOP/s (%.2f × the 32³ rate)\n", bf16_64, bf16_64 / bf16);
  std::printf("bench: conv3d_64_bf16 %.1f GFLOP/s\n", bf16_64);
  return 0;
}

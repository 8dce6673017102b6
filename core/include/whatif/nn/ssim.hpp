#pragma once
// Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004) with an 11-tap Gaussian window
// (σ = 1.5, shrunk to fit small inputs), and its multi-scale form (Wang, Simoncelli & Bovik 2003),
// for [B, C, H, W] or [B, C, D, H, W] tensors. Computed in the inputs' dtype (metrics pass fp64,
// training losses fp32) and differentiable; each returns one value per example, [B], averaged over
// channels and the positions where the whole window fits ('valid').
#include <ATen/core/Tensor.h>

namespace whatif::nn {

// Mean SSIM map per example: K1 = 0.01, K2 = 0.03, biased local moments.
at::Tensor ssim(const at::Tensor& x, const at::Tensor& y, double data_range);

// MS-SSIM per example over `scales` scales with the paper's five exponents, finest first,
// renormalised to sum to 1 over the scales used (one scale is plain SSIM). Luminance enters at the
// coarsest scale only (eq. 7). Each scale's mean is clamped below at `floor` so the fractional power
// stays real (0 for a metric; a small positive floor keeps a loss's gradient finite).
at::Tensor ms_ssim(const at::Tensor& x, const at::Tensor& y, double data_range, int scales,
                   double floor = 0.0);

// Scales for an input whose smallest spatial side is `side`: each extra scale halves the input,
// and scales are added (up to 5) while the coarsest one keeps at least `coarsest_side` samples.
int ms_ssim_scales(std::int64_t side, std::int64_t coarsest_side);

// The smallest spatial side of [B, C, *spatial].
std::int64_t smallest_side(const at::Tensor& x);

// 2×2(×2) average pooling, the downsampling between MS-SSIM scales (odd sides lose their last row).
at::Tensor pool_by_two(const at::Tensor& x);

// Odd window length used on an input whose smallest spatial side is `side`: 11, or the largest
// odd length that fits.
std::int64_t ssim_window(std::int64_t side);

}  // namespace whatif::nn

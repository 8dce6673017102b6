#pragma once
// Full-reference similarity of image pairs, one value per example: PSNR, SSIM (Wang et al. 2004)
// and MS-SSIM (Wang et al. 2003). Inputs are [B, C, H, W] or [B, C, D, H, W] of the same shape;
// the spatial dimensionality is read from the rank. Values are computed in float64 and returned as
// a [B] float64 tensor on the inputs' device.
#include <ATen/core/Tensor.h>

namespace whatif_metrics {

// 10·log10(R² / MSE) per example, MSE over channels and positions; +inf where the pair is equal.
at::Tensor psnr(const at::Tensor& x, const at::Tensor& y, double data_range);

// Mean SSIM map per example: Gaussian window σ = 1.5 (11 taps, shrunk to fit small inputs),
// K1 = 0.01, K2 = 0.03, biased local moments, positions where the whole window fits ('valid').
at::Tensor ssim(const at::Tensor& x, const at::Tensor& y, double data_range);

// MS-SSIM per example with the five weights of Wang et al. 2003, over `ms_ssim_scales` scales.
at::Tensor ms_ssim(const at::Tensor& x, const at::Tensor& y, double data_range);

// Scales used for an input whose smallest spatial side is `side`: each extra scale halves the
// input, and scales are added (up to 5) while the coarsest one keeps at least 8 samples per side.
int ms_ssim_scales(std::int64_t side);

// The smallest spatial side of [B, C, *spatial].
std::int64_t smallest_side(const at::Tensor& x);

// 2×2(×2) average pooling, the downsampling between MS-SSIM scales (odd sides lose their last row).
at::Tensor pool_by_two(const at::Tensor& x);

// Odd window length used on an input whose smallest spatial side is `side`: 11, or the largest
// odd length that fits.
std::int64_t ssim_window(std::int64_t side);

}  // namespace whatif_metrics

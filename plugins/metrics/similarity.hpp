#pragma once
// Full-reference similarity of image pairs, one value per example: PSNR, SSIM (Wang et al. 2004)
// and MS-SSIM (Wang et al. 2003). Inputs are [B, C, H, W] or [B, C, D, H, W] of the same shape;
// the spatial dimensionality is read from the rank. Values are computed in float64 (SSIM and
// MS-SSIM by whatif::nn) and returned as a [B] float64 tensor on the inputs' device.
#include <ATen/core/Tensor.h>

namespace whatif_metrics {

// 10·log10(R² / MSE) per example, MSE over channels and positions; +inf where the pair is equal.
at::Tensor psnr(const at::Tensor& x, const at::Tensor& y, double data_range);

// Mean SSIM map per example (whatif::nn::ssim).
at::Tensor ssim(const at::Tensor& x, const at::Tensor& y, double data_range);

// MS-SSIM per example over as many scales (up to 5) as keep at least kCoarsestSide samples a side
// at the coarsest one, negative scale means clamped to 0.
at::Tensor ms_ssim(const at::Tensor& x, const at::Tensor& y, double data_range);

// The coarsest MS-SSIM scale keeps at least this many samples per side (a 7-tap window fits).
constexpr std::int64_t kCoarsestSide = 8;

}  // namespace whatif_metrics

#pragma once
// Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004) with an 11-tap Gaussian window
// (σ = 1.5), and its multi-scale form (Wang, Simoncelli & Bovik 2003), for [B, C, *S] tensors in
// 2D or 3D. Both return one value per example, [B], averaged over channels and positions.
#include <torch/torch.h>

namespace whatif_encoders {

torch::Tensor ssim(const torch::Tensor& x, const torch::Tensor& y, double data_range);

// As many of the paper's five scales as fit a window at the coarsest one (at least one; the window
// shrinks for inputs smaller than 11), with the paper's exponents renormalised to sum to 1.
torch::Tensor ms_ssim(const torch::Tensor& x, const torch::Tensor& y, double data_range);

}  // namespace whatif_encoders

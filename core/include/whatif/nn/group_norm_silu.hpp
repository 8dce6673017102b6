#pragma once
// y = SiLU(GroupNorm(x) · (1 + scale) + shift), fused: one kernel forward and one backward, with
// statistics and arithmetic in fp32 whatever the storage type. It is the "norm → scale-shift →
// SiLU" that opens every residual block (Dhariwal & Nichol 2021) and closes the U-Net.
//
// Why fused: LibTorch 1.13's CPU kernels are slow on bf16 elementwise work (SiLU and its backward
// run ~2× slower than in fp32, GroupNorm ~8×), so under bf16 autocast the composition spends most
// of its time casting to fp32 and back. Here a bf16 activation is read once and written once, in
// both directions. fp32 and bf16 CPU tensors take the kernel; anything else (fp64, CUDA) takes the
// unfused composition of the same formula. This file is built as its own small library with
// OpenMP on (ATen's parallel_for is an inline OpenMP loop: without -fopenmp it runs serially).
#include <ATen/core/Tensor.h>

namespace whatif::nn {

// x [B, C, *S]; weight, bias [C]; scale, shift [B, C] or undefined (no per-example modulation).
// The result has x's dtype; gradients reach x, weight, bias, scale and shift.
at::Tensor group_norm_silu(const at::Tensor& x, std::int64_t groups, const at::Tensor& weight,
                              const at::Tensor& bias, const at::Tensor& scale = {},
                              const at::Tensor& shift = {}, double eps = 1e-5);

// The same formula from ATen ops in fp32 (the reference the kernel is tested against).
at::Tensor group_norm_silu_reference(const at::Tensor& x, std::int64_t groups, const at::Tensor& weight,
                                        const at::Tensor& bias, const at::Tensor& scale = {},
                                        const at::Tensor& shift = {}, double eps = 1e-5);

}  // namespace whatif::nn

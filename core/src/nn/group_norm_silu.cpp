#include "whatif/nn/group_norm_silu.hpp"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace whatif::nn {

namespace {

// Row kernels on fp32 blocks. Each is compiled for AVX-512, AVX2 and baseline x86-64 and picked
// at load time (GCC target_clones); the loops are written so the compiler vectorizes them without
// -ffast-math: reductions accumulate in kLanes independent partial sums, the exponential is a
// branch-free polynomial.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WHATIF_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define WHATIF_CLONES
#endif

constexpr std::int64_t kBlock = 1024;  // elements converted at a time (4 KiB of fp32: stays in L1)

// std::bit_cast (C++20); GCC does not vectorize loops through the memcpy spelling.
template <typename To, typename From>
inline To bits_as(From v) {
  static_assert(sizeof(To) == sizeof(From));
  return __builtin_bit_cast(To, v);
}

// e^x for x in [-87, 0], relative error < 3e-7: Cody–Waite reduction x = n ln2 + r (n rounded to
// nearest by truncating x·log2(e) − 1/2 toward zero), Cephes' degree-6 polynomial for e^r, and 2^n
// from the exponent bits.
inline float exp_nonpositive(float x) {
  const std::int32_t n = static_cast<std::int32_t>(x * 1.44269504088896341f - 0.5f);
  const float nf = static_cast<float>(n);
  const float r = x - nf * 0.693359375f + nf * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * bits_as<float>((n + 127) << 23);
}

// σ(p) from e = e^−|p|: 1/(1 + e) for p ≥ 0, e/(1 + e) below. The clamp |p| ≤ 87 and the choice
// by sign are integer operations on the bits (for non-negative floats the bit patterns are ordered
// like the values), so the loops using it stay branch-free and vectorize; a NaN p gives a finite σ
// and p·σ stays NaN.
inline float sigmoid(float p) {
  const auto bits = bits_as<std::int32_t>(p);
  const std::int32_t magnitude = std::min(bits & 0x7fffffff, bits_as<std::int32_t>(87.0f));
  const float e = exp_nonpositive(-bits_as<float>(magnitude)), s = 1.0f / (1.0f + e);
  const std::int32_t negative = bits >> 31;  // all ones when the sign bit is set
  return bits_as<float>((bits_as<std::int32_t>(s) & ~negative) | (bits_as<std::int32_t>(e * s) & negative));
}

WHATIF_CLONES void bf16_to_float(const std::uint16_t* in, float* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    out[i] = bits_as<float>(static_cast<std::uint32_t>(in[i]) << 16);
  }
}

// Round to nearest even, as c10::BFloat16 does; NaN stays NaN.
WHATIF_CLONES void float_to_bf16(const float* in, std::uint16_t* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const auto bits = bits_as<std::uint32_t>(in[i]);
    const std::uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
    out[i] = in[i] != in[i] ? std::uint16_t{0x7fc0} : static_cast<std::uint16_t>(rounded);
  }
}

// Reductions accumulate in 16-lane vectors (GCC/Clang vector extensions, lowered to whatever the
// clone's instruction set has), so they vectorize without reassociating floating point.
using Lanes = float __attribute__((vector_size(64)));
constexpr std::int64_t kLanes = sizeof(Lanes) / sizeof(float);

// By reference, not by value: a vector argument's ABI would differ between the clones.
inline void add_lanes(Lanes& sum, const float* p) {
  Lanes v;
  std::memcpy(&v, p, sizeof v);
  sum += v;
}

inline double lane_sum(const Lanes& v) {
  double s = 0;
  for (std::int64_t j = 0; j < kLanes; ++j) s += v[j];
  return s;
}

// Σ (x − k) and Σ (x − k)² (the shift k keeps the variance accurate when |mean| ≫ std).
WHATIF_CLONES void shifted_moments(const float* x, std::int64_t n, float k, double& sum, double& squares) {
  Lanes s{}, q{};
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    Lanes v;
    std::memcpy(&v, x + i, sizeof v);
    v -= k;
    s += v;
    q += v * v;
  }
  for (; i < n; ++i) {
    const float v = x[i] - k;
    s[0] += v;
    q[0] += v * v;
  }
  sum += lane_sum(s), squares += lane_sum(q);
}

WHATIF_CLONES double sum_of(const float* x, std::int64_t n) {
  Lanes s{};
  std::int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) add_lanes(s, x + i);
  for (; i < n; ++i) s[0] += x[i];
  return lane_sum(s);
}

// y = SiLU(p), p = x·A + B.
WHATIF_CLONES void silu_affine(const float* x, float* y, std::int64_t n, float A, float B) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float p = x[i] * A + B;
    y[i] = p * sigmoid(p);
  }
}

// With p = x·A + B, z = x·r − m (the normalised input): d = dy · SiLU'(p) and d·z.
WHATIF_CLONES void silu_grad(const float* x, const float* dy, float* d, float* dz, std::int64_t n, float A, float B,
                             float r, float m) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float p = x[i] * A + B, g = sigmoid(p);
    d[i] = dy[i] * g * (1.0f + p * (1.0f - g));
    dz[i] = d[i] * (x[i] * r - m);
  }
}

// dx = r · (d·a − k1 − z·k2): the GroupNorm input gradient, with k1 = mean(dz) and k2 = mean(dz·z)
// over the group.
WHATIF_CLONES void silu_grad_input(const float* x, const float* dy, float* dx, std::int64_t n, float A, float B,
                                   float r, float m, float a, float k1, float k2) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float p = x[i] * A + B, g = sigmoid(p);
    const float d = dy[i] * g * (1.0f + p * (1.0f - g));
    const float z = x[i] * r - m;
    dx[i] = r * (d * a - k1 - z * k2);
  }
}

// A row of N elements in its storage type, visited in fp32 blocks.
template <typename T>
struct Row {
  static const float* read(const T* row, std::int64_t offset, std::int64_t n, float* buffer);
  static void write(T* row, std::int64_t offset, std::int64_t n, float* buffer);
};
template <>
const float* Row<float>::read(const float* row, std::int64_t offset, std::int64_t, float*) {
  return row + offset;
}
template <>
void Row<float>::write(float* row, std::int64_t offset, std::int64_t n, float* buffer) {
  if (buffer != row + offset) std::memcpy(row + offset, buffer, static_cast<std::size_t>(n) * sizeof(float));
}
template <>
const float* Row<c10::BFloat16>::read(const c10::BFloat16* row, std::int64_t offset, std::int64_t n, float* buffer) {
  bf16_to_float(reinterpret_cast<const std::uint16_t*>(row + offset), buffer, n);
  return buffer;
}
template <>
void Row<c10::BFloat16>::write(c10::BFloat16* row, std::int64_t offset, std::int64_t n, float* buffer) {
  float_to_bf16(buffer, reinterpret_cast<std::uint16_t*>(row + offset), n);
}

struct Shape {
  std::int64_t batch, channels, groups, n;  // n = voxels per channel
  std::int64_t per_group() const { return channels / groups; }
};

// Per-(example, channel) affine coefficients folding the normalisation: p = x·A + B.
struct Coefficients {
  std::vector<float> A, B, a, r, m;  // [B·C]; a = γ(1 + s); r = rstd; m = mean · rstd
};

Coefficients coefficients(const Shape& s, const float* weight, const float* bias, const float* scale,
                          const float* shift, const float* mean, const float* rstd) {
  const std::int64_t rows = s.batch * s.channels, cg = s.per_group();
  Coefficients c;
  c.A.resize(rows), c.B.resize(rows), c.a.resize(rows), c.r.resize(rows), c.m.resize(rows);
  for (std::int64_t row = 0; row < rows; ++row) {
    const std::int64_t ch = row % s.channels, bg = (row / s.channels) * s.groups + ch / cg;
    const float modulation = 1.0f + scale[row];
    c.a[row] = weight[ch] * modulation;
    c.r[row] = rstd[bg];
    c.m[row] = mean[bg] * rstd[bg];
    c.A[row] = c.a[row] * c.r[row];
    c.B[row] = bias[ch] * modulation + shift[row] - c.a[row] * c.m[row];
  }
  return c;
}

template <typename T>
void forward_kernel(const T* x, T* y, const Shape& s, const float* weight, const float* bias, const float* scale,
                    const float* shift, double eps, float* mean, float* rstd, Coefficients& c) {
  const std::int64_t cg = s.per_group();
  at::parallel_for(0, s.batch * s.groups, 1, [&](std::int64_t begin, std::int64_t end) {
    float buffer[kBlock];
    for (std::int64_t bg = begin; bg < end; ++bg) {
      const std::int64_t b = bg / s.groups, g = bg % s.groups;
      const T* first = x + (b * s.channels + g * cg) * s.n;
      const float k = static_cast<float>(first[0]);
      double sum = 0, squares = 0;
      for (std::int64_t ch = 0; ch < cg; ++ch)
        for (std::int64_t o = 0; o < s.n; o += kBlock) {
          const std::int64_t len = std::min(kBlock, s.n - o);
          shifted_moments(Row<T>::read(first + ch * s.n, o, len, buffer), len, k, sum, squares);
        }
      const double count = static_cast<double>(cg * s.n), mu = sum / count;
      const double var = std::max(squares / count - mu * mu, 0.0);
      mean[bg] = static_cast<float>(k + mu);
      rstd[bg] = static_cast<float>(1.0 / std::sqrt(var + eps));
    }
  });
  c = coefficients(s, weight, bias, scale, shift, mean, rstd);
  const std::int64_t rows = s.batch * s.channels;
  at::parallel_for(0, rows, 1, [&](std::int64_t begin, std::int64_t end) {
    float buffer[kBlock];
    for (std::int64_t row = begin; row < end; ++row)
      for (std::int64_t o = 0; o < s.n; o += kBlock) {
        const std::int64_t len = std::min(kBlock, s.n - o);
        const float* in = Row<T>::read(x + row * s.n, o, len, buffer);
        silu_affine(in, buffer, len, c.A[row], c.B[row]);
        Row<T>::write(y + row * s.n, o, len, buffer);
      }
  });
}

// Fills dx and the per-row sums Σd (= ∂L/∂B-term) and Σd·z (= ∂L/∂a).
template <typename T>
void backward_kernel(const T* x, const T* dy, T* dx, const Shape& s, const Coefficients& c, std::vector<double>& sum_d,
                     std::vector<double>& sum_dz) {
  const std::int64_t rows = s.batch * s.channels, cg = s.per_group();
  sum_d.assign(rows, 0.0), sum_dz.assign(rows, 0.0);
  at::parallel_for(0, rows, 1, [&](std::int64_t begin, std::int64_t end) {
    float xb[kBlock], gb[kBlock], d[kBlock], dz[kBlock];
    for (std::int64_t row = begin; row < end; ++row)
      for (std::int64_t o = 0; o < s.n; o += kBlock) {
        const std::int64_t len = std::min(kBlock, s.n - o);
        silu_grad(Row<T>::read(x + row * s.n, o, len, xb), Row<T>::read(dy + row * s.n, o, len, gb), d, dz, len,
                  c.A[row], c.B[row], c.r[row], c.m[row]);
        sum_d[row] += sum_of(d, len);
        sum_dz[row] += sum_of(dz, len);
      }
  });
  // Σ over a group of dz = d·a and of dz·z, divided by the group's element count.
  std::vector<float> k1(rows), k2(rows);
  const double count = static_cast<double>(cg * s.n);
  for (std::int64_t bg = 0; bg < s.batch * s.groups; ++bg) {
    const std::int64_t row0 = (bg / s.groups) * s.channels + (bg % s.groups) * cg;
    double g1 = 0, g2 = 0;
    for (std::int64_t row = row0; row < row0 + cg; ++row) g1 += c.a[row] * sum_d[row], g2 += c.a[row] * sum_dz[row];
    for (std::int64_t row = row0; row < row0 + cg; ++row)
      k1[row] = static_cast<float>(g1 / count), k2[row] = static_cast<float>(g2 / count);
  }
  at::parallel_for(0, rows, 1, [&](std::int64_t begin, std::int64_t end) {
    float xb[kBlock], gb[kBlock], out[kBlock];
    for (std::int64_t row = begin; row < end; ++row)
      for (std::int64_t o = 0; o < s.n; o += kBlock) {
        const std::int64_t len = std::min(kBlock, s.n - o);
        silu_grad_input(Row<T>::read(x + row * s.n, o, len, xb), Row<T>::read(dy + row * s.n, o, len, gb), out, len,
                        c.A[row], c.B[row], c.r[row], c.m[row], c.a[row], k1[row], k2[row]);
        Row<T>::write(dx + row * s.n, o, len, out);
      }
  });
}

Shape shape_of(const at::Tensor& x, std::int64_t groups) {
  return {x.size(0), x.size(1), groups, x.numel() / std::max<std::int64_t>(1, x.size(0) * x.size(1))};
}

at::Tensor as_float(const at::Tensor& t) { return t.detach().to(at::kFloat).contiguous(); }

struct GroupNormSiLU : torch::autograd::Function<GroupNormSiLU> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x,
                               const at::Tensor& weight, const at::Tensor& bias, const at::Tensor& scale,
                               const at::Tensor& shift, std::int64_t groups, double eps) {
    const at::Tensor input = x.contiguous();
    const Shape s = shape_of(input, groups);
    const at::Tensor w = as_float(weight), b = as_float(bias), sc = as_float(scale), sh = as_float(shift);
    at::Tensor y = at::empty_like(input);
    at::Tensor mean = at::empty({s.batch * s.groups}), rstd = at::empty({s.batch * s.groups});
    Coefficients c;
    if (input.scalar_type() == at::kBFloat16)
      forward_kernel(input.data_ptr<c10::BFloat16>(), y.data_ptr<c10::BFloat16>(), s, w.data_ptr<float>(),
                     b.data_ptr<float>(), sc.data_ptr<float>(), sh.data_ptr<float>(), eps, mean.data_ptr<float>(),
                     rstd.data_ptr<float>(), c);
    else
      forward_kernel(input.data_ptr<float>(), y.data_ptr<float>(), s, w.data_ptr<float>(), b.data_ptr<float>(),
                     sc.data_ptr<float>(), sh.data_ptr<float>(), eps, mean.data_ptr<float>(), rstd.data_ptr<float>(),
                     c);
    ctx->save_for_backward({input, weight, bias, scale, shift, mean, rstd});
    ctx->saved_data["groups"] = groups;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &weight = saved[1], &bias = saved[2], &scale = saved[3], &shift = saved[4];
    const Shape s = shape_of(x, ctx->saved_data["groups"].toInt());
    const at::Tensor w = as_float(weight), b = as_float(bias), sc = as_float(scale);
    const float *mean = saved[5].data_ptr<float>(), *rstd = saved[6].data_ptr<float>();
    // The forward's coefficients again (B·C numbers: cheaper to recompute than to keep).
    const Coefficients c = coefficients(s, w.data_ptr<float>(), b.data_ptr<float>(), sc.data_ptr<float>(),
                                        as_float(shift).data_ptr<float>(), mean, rstd);
    const at::Tensor dy = grads[0].to(x.scalar_type()).contiguous();
    at::Tensor dx = at::empty_like(x);
    std::vector<double> sum_d, sum_dz;
    if (x.scalar_type() == at::kBFloat16)
      backward_kernel(x.data_ptr<c10::BFloat16>(), dy.data_ptr<c10::BFloat16>(), dx.data_ptr<c10::BFloat16>(), s, c,
                      sum_d, sum_dz);
    else
      backward_kernel(x.data_ptr<float>(), dy.data_ptr<float>(), dx.data_ptr<float>(), s, c, sum_d, sum_dz);
    // a = γ(1 + s), b = β(1 + s) + t: ∂L/∂a = Σ d·z, ∂L/∂b = Σ d per (example, channel).
    const at::Tensor da = at::tensor(sum_dz, at::kDouble).view({s.batch, s.channels});
    const at::Tensor db = at::tensor(sum_d, at::kDouble).view({s.batch, s.channels});
    const at::Tensor modulation = 1 + sc.to(at::kDouble);
    const at::Tensor dweight = (da * modulation).sum(0), dbias = (db * modulation).sum(0);
    const at::Tensor dscale = da * w.to(at::kDouble) + db * b.to(at::kDouble);
    return {dx,
            dweight.to(weight.scalar_type()),
            dbias.to(bias.scalar_type()),
            dscale.to(scale.scalar_type()),
            db.to(shift.scalar_type()),
            at::Tensor(),
            at::Tensor()};
  }
};

}  // namespace

at::Tensor group_norm_silu_reference(const at::Tensor& x, std::int64_t groups, const at::Tensor& weight,
                                        const at::Tensor& bias, const at::Tensor& scale,
                                        const at::Tensor& shift, double eps) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  const auto dtype = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  auto h = at::group_norm(x.to(dtype), groups, weight.to(dtype), bias.to(dtype), eps);
  std::vector<std::int64_t> view{x.size(0), x.size(1)};
  view.resize(static_cast<std::size_t>(x.dim()), 1);
  if (scale.defined()) h = h * (1 + scale.to(dtype).view(view));
  if (shift.defined()) h = h + shift.to(dtype).view(view);
  return at::silu(h).to(x.scalar_type());
}

at::Tensor group_norm_silu(const at::Tensor& x, std::int64_t groups, const at::Tensor& weight,
                              const at::Tensor& bias, const at::Tensor& scale, const at::Tensor& shift,
                              double eps) {
  TORCH_CHECK(x.dim() >= 2 && x.size(1) % groups == 0, "group_norm_silu: channels ", x.size(1),
              " are not divisible by groups ", groups);
  const bool kernel = x.device().is_cpu() && (x.scalar_type() == at::kFloat || x.scalar_type() == at::kBFloat16);
  if (!kernel) return group_norm_silu_reference(x, groups, weight, bias, scale, shift, eps);
  const auto zeros = [&] { return at::zeros({x.size(0), x.size(1)}, x.options().dtype(at::kFloat)); };
  return GroupNormSiLU::apply(x, weight, bias, scale.defined() ? scale.reshape({x.size(0), x.size(1)}) : zeros(),
                              shift.defined() ? shift.reshape({x.size(0), x.size(1)}) : zeros(), groups, eps);
}

}  // namespace whatif::nn

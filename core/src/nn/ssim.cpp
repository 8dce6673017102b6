#include "whatif/nn/ssim.hpp"

#include <algorithm>
#include <array>
#include <utility>

#include <ATen/ATen.h>

namespace whatif::nn {
namespace {

// Wang et al. 2004, §III-C: an 11-tap circular Gaussian with σ = 1.5, K1 = 0.01, K2 = 0.03.
constexpr std::int64_t kWindow = 11;
constexpr double kSigma = 1.5;
constexpr double kK1 = 0.01;
constexpr double kK2 = 0.03;
// Wang et al. 2003, §3.2: exponents of the five scales, finest first.
constexpr std::array<double, 5> kScaleWeights{0.0448, 0.2856, 0.3001, 0.2363, 0.1333};

// Separable Gaussian filter of v [N, 1, *spatial], keeping only positions where the whole window
// fits, as Wang et al.'s reference code does (filter2 'valid').
at::Tensor gaussian_filter(const at::Tensor& v, std::int64_t window) {
  at::Tensor taps = at::arange(window, v.options()) - static_cast<double>(window - 1) / 2;
  taps = at::exp(-taps.square() / (2 * kSigma * kSigma));
  taps = taps / taps.sum();
  at::Tensor out = v;
  const auto spatial = v.dim() - 2;
  for (int64_t axis = 0; axis < spatial; ++axis) {
    std::vector<std::int64_t> shape(v.dim(), 1);
    shape[2 + axis] = window;
    const at::Tensor kernel = taps.view(shape);
    out = spatial == 2 ? at::conv2d(out, kernel) : at::conv3d(out, kernel);
  }
  return out;
}

// The luminance and contrast-structure maps of Wang et al. 2004, eqs. (6), (9)-(10) with the
// constants folded in as in eq. (13): l = (2μxμy + C1)/(μx² + μy² + C1),
// cs = (2σxy + C2)/(σx² + σy² + C2). Both are [B, C, *valid positions].
std::pair<at::Tensor, at::Tensor> ssim_maps(const at::Tensor& x, const at::Tensor& y,
                                            double data_range) {
  const auto window = ssim_window(smallest_side(x));
  const auto b = x.size(0);
  const auto c = x.size(1);
  std::vector<std::int64_t> flat{5 * b * c, 1};
  flat.insert(flat.end(), x.sizes().begin() + 2, x.sizes().end());
  const at::Tensor moments =
      gaussian_filter(at::cat({x, y, x * x, y * y, x * y}).reshape(flat), window);
  std::vector<std::int64_t> split{5, b, c};
  split.insert(split.end(), moments.sizes().begin() + 2, moments.sizes().end());
  const auto m = moments.reshape(split).unbind(0);
  const at::Tensor &mu_x = m[0], &mu_y = m[1];
  const at::Tensor var_x = m[2] - mu_x * mu_x;
  const at::Tensor var_y = m[3] - mu_y * mu_y;
  const at::Tensor cov = m[4] - mu_x * mu_y;
  const double c1 = (kK1 * data_range) * (kK1 * data_range);
  const double c2 = (kK2 * data_range) * (kK2 * data_range);
  return {(2 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1),
          (2 * cov + c2) / (var_x + var_y + c2)};
}

at::Tensor per_example_mean(const at::Tensor& map) { return map.flatten(1).mean(1); }

}  // namespace

std::int64_t smallest_side(const at::Tensor& x) {
  const auto sizes = x.sizes();
  return *std::min_element(sizes.begin() + 2, sizes.end());
}

at::Tensor pool_by_two(const at::Tensor& x) {
  return x.dim() == 4 ? at::avg_pool2d(x, 2) : at::avg_pool3d(x, 2);
}

std::int64_t ssim_window(std::int64_t side) {
  const auto fit = std::min(kWindow, side);
  return fit % 2 == 1 ? fit : fit - 1;
}

int ms_ssim_scales(std::int64_t side, std::int64_t coarsest_side) {
  int scales = 1;
  while (scales < static_cast<int>(kScaleWeights.size()) && (side >> scales) >= coarsest_side) ++scales;
  return scales;
}

at::Tensor ssim(const at::Tensor& x, const at::Tensor& y, double data_range) {
  const auto [luminance, contrast_structure] = ssim_maps(x, y, data_range);
  return per_example_mean(luminance * contrast_structure);
}

at::Tensor ms_ssim(const at::Tensor& x, const at::Tensor& y, double data_range, int scales,
                   double floor) {
  scales = std::clamp(scales, 1, static_cast<int>(kScaleWeights.size()));
  double total = 0;
  for (int j = 0; j < scales; ++j) total += kScaleWeights[j];
  at::Tensor a = x, b = y, result;
  for (int j = 0; j < scales; ++j) {
    const auto [luminance, contrast_structure] = ssim_maps(a, b, data_range);
    const bool coarsest = j == scales - 1;
    const at::Tensor term =
        per_example_mean(coarsest ? luminance * contrast_structure : contrast_structure);
    const at::Tensor factor = at::pow(at::clamp_min(term, floor), kScaleWeights[j] / total);
    result = result.defined() ? result * factor : factor;
    if (!coarsest) {
      a = pool_by_two(a);
      b = pool_by_two(b);
    }
  }
  return result;
}

}  // namespace whatif::nn

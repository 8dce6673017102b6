#include "ssim.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace whatif_encoders {
namespace {

namespace F = torch::nn::functional;

std::int64_t smallest_side(const torch::Tensor& x) {
  std::int64_t side = x.size(2);
  for (std::int64_t d = 3; d < x.dim(); ++d) side = std::min(side, x.size(d));
  return side;
}

// Gaussian filtering along every spatial axis ("valid": no padding), channel by channel.
torch::Tensor blur(const torch::Tensor& x, std::int64_t window) {
  const double sigma = 1.5;
  auto taps = torch::arange(window, x.options()) - static_cast<double>(window - 1) / 2;
  taps = torch::exp(-taps.square() / (2 * sigma * sigma));
  taps = taps / taps.sum();
  const std::int64_t dims = x.dim() - 2, channels = x.size(1);
  auto h = x;
  for (std::int64_t axis = 0; axis < dims; ++axis) {
    std::vector<std::int64_t> shape(dims + 2, 1);
    shape[0] = channels;
    shape[2 + axis] = window;
    const auto w = taps.view(shape);
    const std::vector<std::int64_t> ones(dims, 1), zeros(dims, 0);
    h = dims == 3 ? torch::conv3d(h, w, c10::nullopt, ones, zeros, ones, channels)
                  : torch::conv2d(h, w, c10::nullopt, ones, zeros, ones, channels);
  }
  return h;
}

// SSIM and its contrast-structure factor cs, each averaged per example (Wang et al. 2004, eq. 13).
std::pair<torch::Tensor, torch::Tensor> ssim_and_cs(const torch::Tensor& x, const torch::Tensor& y,
                                                    double data_range, std::int64_t window) {
  const double c1 = std::pow(0.01 * data_range, 2), c2 = std::pow(0.03 * data_range, 2);
  const auto mx = blur(x, window), my = blur(y, window);
  const auto vx = blur(x * x, window) - mx * mx;
  const auto vy = blur(y * y, window) - my * my;
  const auto cxy = blur(x * y, window) - mx * my;
  const auto cs = (2 * cxy + c2) / (vx + vy + c2);
  const auto luminance = (2 * mx * my + c1) / (mx * mx + my * my + c1);
  return {(luminance * cs).flatten(1).mean(1), cs.flatten(1).mean(1)};
}

std::int64_t window_for(std::int64_t side) {
  const std::int64_t w = std::min<std::int64_t>(11, side);
  return w % 2 == 1 ? w : w - 1;
}

}  // namespace

torch::Tensor ssim(const torch::Tensor& x, const torch::Tensor& y, double data_range) {
  const auto xf = x.to(torch::kFloat), yf = y.to(torch::kFloat);
  return ssim_and_cs(xf, yf, data_range, window_for(smallest_side(xf))).first;
}

torch::Tensor ms_ssim(const torch::Tensor& x, const torch::Tensor& y, double data_range) {
  static const double paper_weights[5] = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};
  auto xf = x.to(torch::kFloat), yf = y.to(torch::kFloat);
  const std::int64_t side = smallest_side(xf), window = window_for(side);
  int scales = 1;
  while (scales < 5 && (side >> scales) >= window) ++scales;
  double total = 0;
  for (int s = 0; s < scales; ++s) total += paper_weights[s];
  const std::int64_t dims = xf.dim() - 2;
  torch::Tensor result;
  for (int s = 0; s < scales; ++s) {
    const auto [full, cs] = ssim_and_cs(xf, yf, data_range, window);
    // Negative factors at coarse scales would make the fractional power undefined; the floor keeps
    // the gradient finite.
    const auto factor = (s + 1 == scales ? full : cs).clamp_min(1e-6).pow(paper_weights[s] / total);
    result = result.defined() ? result * factor : factor;
    if (s + 1 < scales) {
      xf = dims == 3 ? F::avg_pool3d(xf, F::AvgPool3dFuncOptions(2)) : F::avg_pool2d(xf, F::AvgPool2dFuncOptions(2));
      yf = dims == 3 ? F::avg_pool3d(yf, F::AvgPool3dFuncOptions(2)) : F::avg_pool2d(yf, F::AvgPool2dFuncOptions(2));
    }
  }
  return result;
}

}  // namespace whatif_encoders

#include "similarity.hpp"

#include <sstream>

#include <ATen/ATen.h>
#include <whatif/nn/ssim.hpp>
#include <whatif/registry/error.hpp>

namespace whatif_metrics {

namespace {

std::string shape_of(const at::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

void check_pair(const at::Tensor& x, const at::Tensor& y) {
  if (!x.defined() || !y.defined())
    throw whatif::Error("similarity needs two images; one of them is missing");
  if (x.dim() != 4 && x.dim() != 5)
    throw whatif::Error("similarity expects [B, C, H, W] or [B, C, D, H, W], got " + shape_of(x));
  if (x.sizes() != y.sizes())
    throw whatif::Error("similarity compares images of one shape, got " + shape_of(x) + " and " +
                        shape_of(y));
}

}  // namespace

at::Tensor psnr(const at::Tensor& x, const at::Tensor& y, double data_range) {
  check_pair(x, y);
  const at::Tensor mse = (x.to(at::kDouble) - y.to(at::kDouble)).square().flatten(1).mean(1);
  return 10 * at::log10(data_range * data_range / mse);
}

at::Tensor ssim(const at::Tensor& x, const at::Tensor& y, double data_range) {
  check_pair(x, y);
  return whatif::nn::ssim(x.to(at::kDouble), y.to(at::kDouble), data_range);
}

at::Tensor ms_ssim(const at::Tensor& x, const at::Tensor& y, double data_range) {
  check_pair(x, y);
  const int scales = whatif::nn::ms_ssim_scales(whatif::nn::smallest_side(x), kCoarsestSide);
  return whatif::nn::ms_ssim(x.to(at::kDouble), y.to(at::kDouble), data_range, scales, 0.0);
}

}  // namespace whatif_metrics

#include "haar.hpp"

#include <cmath>

#include <ATen/ATen.h>
#include <whatif/registry/error.hpp>

namespace whatif_encoders {

HaarEncoder::HaarEncoder(std::int64_t spatial_dims) : dims_(spatial_dims) {
  if (dims_ != 2 && dims_ != 3) throw whatif::Error("option 'spatial_dims' must be 2 or 3");
  // 1D Haar: lowpass (1, 1)/√2, highpass (1, −1)/√2; the d-D basis is their tensor products.
  const double r = 1.0 / std::sqrt(2.0);
  const at::Tensor h = at::tensor({r, r, r, -r}, at::kDouble).view({2, 2});  // [band, tap]
  const at::Tensor basis = dims_ == 2 ? at::einsum("ai,bj->abij", {h, h})
                                      : at::einsum("ai,bj,ck->abcijk", {h, h, h});
  std::vector<std::int64_t> shape{std::int64_t{1} << dims_};
  for (std::int64_t d = 0; d < dims_; ++d) shape.push_back(2);
  basis_ = basis.reshape(shape);
}

at::Tensor HaarEncoder::filters(const at::Tensor& like, std::int64_t channels) const {
  // Grouped convolution: every input channel gets the 2^d filters → weight [C·2^d, 1, 2, 2(, 2)].
  std::vector<std::int64_t> repeat{channels, 1};
  for (std::int64_t d = 0; d < dims_; ++d) repeat.push_back(1);
  return basis_.unsqueeze(1).repeat(repeat).to(like.options());
}

at::Tensor HaarEncoder::encode(const at::Tensor& x) {
  if (x.dim() != dims_ + 2)
    throw whatif::Error("haar: expected a [B, C, " + std::string(dims_ == 3 ? "D, " : "") +
                        "H, W] tensor, got " + std::to_string(x.dim()) + " dimensions");
  for (std::int64_t d = 2; d < x.dim(); ++d)
    if (x.size(d) % 2 != 0)
      throw whatif::Error("haar: spatial sizes must be even, got " + std::to_string(x.size(d)));
  const std::int64_t c = x.size(1);
  const at::Tensor w = filters(x, c);
  const std::vector<std::int64_t> stride(dims_, 2), padding(dims_, 0), dilation(dims_, 1);
  return dims_ == 3 ? at::conv3d(x, w, c10::nullopt, stride, padding, dilation, c)
                    : at::conv2d(x, w, c10::nullopt, stride, padding, dilation, c);
}

at::Tensor HaarEncoder::decode(const at::Tensor& z) {
  const std::int64_t bands = std::int64_t{1} << dims_;
  if (z.dim() != dims_ + 2 || z.size(1) % bands != 0)
    throw whatif::Error("haar: decode expects [B, C·" + std::to_string(bands) + ", ...]");
  const std::int64_t c = z.size(1) / bands;
  const at::Tensor w = filters(z, c);
  const std::vector<std::int64_t> stride(dims_, 2), padding(dims_, 0);
  return dims_ == 3 ? at::conv_transpose3d(z, w, c10::nullopt, stride, padding, padding, c)
                    : at::conv_transpose2d(z, w, c10::nullopt, stride, padding, padding, c);
}

std::vector<std::int64_t> HaarEncoder::latent_shape(const std::vector<std::int64_t>& input) const {
  if (static_cast<std::int64_t>(input.size()) != dims_ + 1)
    throw whatif::Error("haar: latent_shape expects [C, *spatial]");
  std::vector<std::int64_t> out{input[0] << dims_};
  for (std::size_t i = 1; i < input.size(); ++i) out.push_back(input[i] / 2);
  return out;
}

}  // namespace whatif_encoders

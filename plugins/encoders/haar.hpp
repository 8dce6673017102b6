#pragma once
// The orthonormal Haar wavelet of the wavelet diffusion front-end: a [B, C, D, H, W] volume becomes
// [B, C·2^d, D/2, H/2, W/2] (d = spatial dims), exactly invertible. Each 2^d block maps to its
// 2^d coefficients by an orthonormal matrix, so the inverse is the transpose.
#include <whatif/encoder.hpp>

namespace whatif_encoders {

class HaarEncoder : public whatif::Encoder {
 public:
  explicit HaarEncoder(std::int64_t spatial_dims);
  at::Tensor encode(const at::Tensor& x) override;
  at::Tensor decode(const at::Tensor& z) override;
  std::vector<std::int64_t> latent_shape(const std::vector<std::int64_t>& input) const override;
  whatif::NamedTensors named_parameters() override { return {}; }
  void train(bool) override {}
  void to(const c10::Device&) override {}

 private:
  at::Tensor filters(const at::Tensor& like, std::int64_t channels) const;
  std::int64_t dims_;
  at::Tensor basis_;  // [2^d, 2, 2(, 2)] orthonormal filters, lowpass first
};

}  // namespace whatif_encoders

#pragma once
// Pixel space: the representation is the image itself.
#include <whatif/encoder.hpp>

namespace whatif_encoders {

class IdentityEncoder : public whatif::Encoder {
 public:
  at::Tensor encode(const at::Tensor& x) override { return x; }
  at::Tensor decode(const at::Tensor& z) override { return z; }
  std::vector<std::int64_t> latent_shape(const std::vector<std::int64_t>& input) const override {
    return input;
  }
  whatif::NamedTensors named_parameters() override { return {}; }
  void train(bool) override {}
  void to(const c10::Device&) override {}
};

}  // namespace whatif_encoders

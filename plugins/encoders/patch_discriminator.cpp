#include "patch_discriminator.hpp"

namespace whatif_encoders {

PatchDiscriminatorImpl::PatchDiscriminatorImpl(int dims, std::int64_t in_channels, std::int64_t width,
                                               std::int64_t groups) {
  conv1 = register_module("conv1", vae_conv(dims, in_channels, width, 4, 2, 1));
  conv2 = register_module("conv2", vae_conv(dims, width, 2 * width, 4, 2, 1));
  norm2 = register_module("norm2", vae_norm(groups, 2 * width));
  conv3 = register_module("conv3", vae_conv(dims, 2 * width, 1, 3, 1, 1));
}

torch::Tensor PatchDiscriminatorImpl::forward(const torch::Tensor& x, bool frozen) {
  auto h = torch::leaky_relu(conv1(x, frozen), 0.2);
  h = torch::leaky_relu(norm2(conv2(h, frozen), frozen), 0.2);
  return conv3(h, frozen);
}

}  // namespace whatif_encoders

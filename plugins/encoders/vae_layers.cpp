#include "vae_layers.hpp"

namespace whatif_encoders {

VaeResBlockImpl::VaeResBlockImpl(int dims, std::int64_t in, std::int64_t out, std::int64_t groups) {
  norm1 = register_module("norm1", vae_norm(groups, in));
  conv1 = register_module("conv1", vae_conv(dims, in, out, 3, 1, 1));
  norm2 = register_module("norm2", vae_norm(groups, out));
  conv2 = register_module("conv2", vae_conv(dims, out, out, 3, 1, 1));
  if (in != out) skip = register_module("skip", vae_conv(dims, in, out, 1, 1, 0));
}

torch::Tensor VaeResBlockImpl::forward(const torch::Tensor& x) {
  auto h = conv1(torch::silu(norm1(x)));
  h = conv2(torch::silu(norm2(h)));
  return (skip ? skip(x) : x) + h;
}

}  // namespace whatif_encoders

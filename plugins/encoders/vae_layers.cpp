#include "vae_layers.hpp"

#include <cmath>

namespace whatif_encoders {

VaeConvImpl::VaeConvImpl(int dims, std::int64_t in, std::int64_t out, std::int64_t kernel,
                         std::int64_t stride, std::int64_t padding)
    : dims(dims), stride(stride), padding(padding) {
  std::vector<std::int64_t> shape{out, in};
  for (int d = 0; d < dims; ++d) shape.push_back(kernel);
  weight = register_parameter("weight", torch::empty(shape));
  bias = register_parameter("bias", torch::empty({out}));
  // PyTorch's default for convolutions: kaiming_uniform(a=√5) and a fan-in uniform bias.
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  const double bound = 1.0 / std::sqrt(static_cast<double>(weight[0].numel()));
  torch::NoGradGuard no_grad;
  bias.uniform_(-bound, bound);
}

torch::Tensor VaeConvImpl::forward(const torch::Tensor& x, bool frozen) {
  const auto w = frozen ? weight.detach() : weight;
  const auto b = frozen ? bias.detach() : bias;
  return dims == 3 ? torch::conv3d(x, w, b, stride, padding) : torch::conv2d(x, w, b, stride, padding);
}

VaeNormImpl::VaeNormImpl(std::int64_t groups, std::int64_t channels) : groups(groups) {
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
}

torch::Tensor VaeNormImpl::forward(const torch::Tensor& x, bool frozen) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  const auto w = frozen ? weight.detach() : weight, b = frozen ? bias.detach() : bias;
  const auto xf = x.to(torch::kFloat);
  if (groups > 0) return torch::group_norm(xf, groups, w, b, 1e-6).to(x.scalar_type());
  const auto mean = xf.mean(1, true);
  const auto var = (xf - mean).square().mean(1, true);
  std::vector<std::int64_t> shape(x.dim(), 1);
  shape[1] = x.size(1);
  return ((xf - mean) * torch::rsqrt(var + 1e-6) * w.view(shape) + b.view(shape)).to(x.scalar_type());
}

VaeResBlockImpl::VaeResBlockImpl(int dims, std::int64_t in, std::int64_t out, std::int64_t groups) {
  norm1 = register_module("norm1", VaeNorm(groups, in));
  conv1 = register_module("conv1", VaeConv(dims, in, out, 3, 1, 1));
  norm2 = register_module("norm2", VaeNorm(groups, out));
  conv2 = register_module("conv2", VaeConv(dims, out, out, 3, 1, 1));
  if (in != out) skip = register_module("skip", VaeConv(dims, in, out, 1, 1, 0));
}

torch::Tensor VaeResBlockImpl::forward(const torch::Tensor& x) {
  auto h = conv1(torch::silu(norm1(x)));
  h = conv2(torch::silu(norm2(h)));
  return (skip ? skip(x) : x) + h;
}

VaeAttentionImpl::VaeAttentionImpl(std::int64_t channels, std::int64_t groups) {
  norm = register_module("norm", VaeNorm(groups, channels));
  qkv = register_module("qkv", torch::nn::Linear(channels, 3 * channels));
  proj = register_module("proj", torch::nn::Linear(channels, channels));
}

torch::Tensor VaeAttentionImpl::forward(const torch::Tensor& x) {
  const auto tokens = norm(x).flatten(2).transpose(1, 2);  // [B, N, C]
  const auto parts = qkv(tokens).chunk(3, -1);
  const double scale = 1.0 / std::sqrt(static_cast<double>(x.size(1)));
  const auto scores = torch::matmul(parts[0], parts[1].transpose(1, 2)) * scale;
  const auto weights = torch::softmax(scores.to(torch::kFloat), -1).to(parts[2].scalar_type());
  const auto out = proj(torch::matmul(weights, parts[2]));
  return x + out.transpose(1, 2).reshape(x.sizes());
}

}  // namespace whatif_encoders

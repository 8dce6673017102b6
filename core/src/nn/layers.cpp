#include "whatif/nn/layers.hpp"

#include "whatif/nn/group_norm_silu.hpp"

#include <cmath>

namespace whatif::nn {
namespace F = torch::nn::functional;

NamedTensors named_tensors(const torch::OrderedDict<std::string, torch::Tensor>& dict) {
  NamedTensors out;
  for (const auto& item : dict) out.emplace_back(item.key(), item.value());
  return out;
}

ConvImpl::ConvImpl(int dims, std::int64_t in, std::int64_t out, std::int64_t kernel,
                   std::int64_t stride, bool zero_init, std::int64_t padding)
    : dims(dims), stride(stride), padding(padding < 0 ? kernel / 2 : padding) {
  std::vector<std::int64_t> shape{out, in};
  for (int d = 0; d < dims; ++d) shape.push_back(kernel);
  weight = register_parameter("weight", torch::empty(shape));
  bias = register_parameter("bias", torch::zeros({out}));
  if (zero_init) {
    torch::NoGradGuard no_grad;
    weight.zero_();
  } else {
    // PyTorch's default for convolutions: kaiming_uniform(a=√5) and a fan-in uniform bias.
    torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
    const double bound = 1.0 / std::sqrt(static_cast<double>(weight[0].numel()));
    torch::NoGradGuard no_grad;
    bias.uniform_(-bound, bound);
  }
}

torch::Tensor ConvImpl::forward(const torch::Tensor& x, bool frozen) {
  const auto w = frozen ? weight.detach() : weight, b = frozen ? bias.detach() : bias;
  return dims == 3 ? torch::conv3d(x, w, b, stride, padding) : torch::conv2d(x, w, b, stride, padding);
}

GroupNorm32Impl::GroupNorm32Impl(std::int64_t groups, std::int64_t channels, double eps)
    : groups(groups), eps(eps) {
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
}

torch::Tensor GroupNorm32Impl::forward(const torch::Tensor& x, bool frozen) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  const auto w = frozen ? weight.detach() : weight, b = frozen ? bias.detach() : bias;
  const auto xf = x.to(torch::kFloat);
  if (groups > 0) return torch::group_norm(xf, groups, w, b, eps).to(x.scalar_type());
  const auto mean = xf.mean(1, true);
  const auto var = (xf - mean).square().mean(1, true);
  std::vector<std::int64_t> shape(x.dim(), 1);
  shape[1] = x.size(1);
  return ((xf - mean) * torch::rsqrt(var + eps) * w.view(shape) + b.view(shape)).to(x.scalar_type());
}

torch::Tensor GroupNorm32Impl::silu(const torch::Tensor& x, const torch::Tensor& scale, const torch::Tensor& shift) {
  TORCH_CHECK(groups > 0, "GroupNorm32::silu needs groups > 0 (the fused kernel normalises channel groups)");
  return group_norm_silu(x, groups, weight, bias, scale, shift, eps);
}

torch::Tensor layer_norm32(const torch::Tensor& x, torch::nn::LayerNorm& norm) {
  c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::DispatchKey::AutocastCPU);
  return norm(x.to(torch::kFloat)).to(x.scalar_type());
}

torch::Tensor sinusoidal_embedding(const torch::Tensor& values, std::int64_t dim, double max_period) {
  const std::int64_t half = dim / 2;
  const auto freqs = torch::exp(-std::log(max_period) *
                                torch::arange(half, values.options().dtype(torch::kFloat)) / half);
  const auto args = values.to(torch::kFloat).unsqueeze(1) * freqs.unsqueeze(0);
  return torch::cat({torch::cos(args), torch::sin(args)}, 1);
}

ResBlockImpl::ResBlockImpl(int dims, std::int64_t in, std::int64_t out, std::int64_t emb_dim,
                           std::int64_t groups, double dropout)
    : dropout(dropout) {
  norm1 = register_module("norm1", GroupNorm32(groups, in));
  conv1 = register_module("conv1", Conv(dims, in, out, 3));
  emb_proj = register_module("emb_proj", torch::nn::Linear(emb_dim, 2 * out));
  norm2 = register_module("norm2", GroupNorm32(groups, out));
  // Zero-initialised last convolution: each block starts as the identity (Goyal et al. 2017).
  conv2 = register_module("conv2", Conv(dims, out, out, 3, 1, true));
  if (in != out) skip = register_module("skip", Conv(dims, in, out, 1));
}

torch::Tensor ResBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& emb) {
  auto h = conv1(norm1->silu(x));
  const auto chunks = emb_proj(torch::silu(emb)).chunk(2, 1);
  h = norm2->silu(h, chunks[0], chunks[1]);
  if (dropout > 0) h = F::dropout(h, F::DropoutFuncOptions().p(dropout).training(is_training()));
  h = conv2(h);
  return (skip ? skip(x) : x) + h;
}

torch::Tensor attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                        std::int64_t heads, const torch::Tensor& mask) {
  const auto b = q.size(0), tq = q.size(1), tk = k.size(1), c = q.size(2);
  const auto d = c / heads;
  auto qh = q.view({b, tq, heads, d}).transpose(1, 2);
  auto kh = k.view({b, tk, heads, d}).transpose(1, 2);
  auto vh = v.view({b, tk, heads, d}).transpose(1, 2);
  auto scores = torch::matmul(qh, kh.transpose(-2, -1)) / std::sqrt(static_cast<double>(d));
  if (mask.defined())
    scores = scores.masked_fill(~mask.to(torch::kBool).view({b, 1, 1, tk}),
                                -1e9);  // finite: a row with no real key stays defined
  auto weights = torch::softmax(scores.to(torch::kFloat), -1).to(vh.scalar_type());
  return torch::matmul(weights, vh).transpose(1, 2).reshape({b, tq, c});
}

SpatialAttentionImpl::SpatialAttentionImpl(std::int64_t channels, std::int64_t groups,
                                           std::int64_t heads, bool self_attention,
                                           std::int64_t context_dim, double eps)
    : heads(heads) {
  if (self_attention) {
    norm = register_module("norm", GroupNorm32(groups, channels, eps));
    qkv = register_module("qkv", torch::nn::Linear(channels, 3 * channels));
    proj = register_module("proj", torch::nn::Linear(channels, channels));
  }
  if (context_dim > 0) {
    cross_norm = register_module("cross_norm", GroupNorm32(groups, channels, eps));
    q_cross = register_module("q_cross", torch::nn::Linear(channels, channels));
    kv_cross = register_module("kv_cross", torch::nn::Linear(context_dim, 2 * channels));
    proj_cross = register_module("proj_cross", torch::nn::Linear(channels, channels));
  }
}

namespace {
// [B, C, *S] ↔ [B, N, C]
torch::Tensor to_tokens(const torch::Tensor& x) { return x.flatten(2).transpose(1, 2); }
torch::Tensor from_tokens(const torch::Tensor& t, const torch::Tensor& like) {
  return t.transpose(1, 2).reshape(like.sizes());
}
}  // namespace

torch::Tensor SpatialAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& context,
                                            const torch::Tensor& context_mask) {
  auto h = x;
  if (qkv) {
    const auto parts = qkv(to_tokens(norm(h))).chunk(3, -1);
    h = h + from_tokens(proj(attention(parts[0], parts[1], parts[2], heads, {})), h);
  }
  if (q_cross && context.defined()) {
    const auto q = q_cross(to_tokens(cross_norm(h)));
    const auto kv = kv_cross(context.to(q.scalar_type())).chunk(2, -1);
    h = h + from_tokens(proj_cross(attention(q, kv[0], kv[1], heads, context_mask)), h);
  }
  return h;
}

TransformerBlockImpl::TransformerBlockImpl(std::int64_t channels, std::int64_t heads,
                                           std::int64_t emb_dim, std::int64_t context_dim,
                                           double dropout)
    : heads(heads), dropout(dropout) {
  norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({channels})));
  emb_proj = register_module("emb_proj", torch::nn::Linear(emb_dim, channels));
  qkv = register_module("qkv", torch::nn::Linear(channels, 3 * channels));
  proj = register_module("proj", torch::nn::Linear(channels, channels));
  if (context_dim > 0) {
    norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({channels})));
    q_cross = register_module("q_cross", torch::nn::Linear(channels, channels));
    kv_cross = register_module("kv_cross", torch::nn::Linear(context_dim, 2 * channels));
    proj_cross = register_module("proj_cross", torch::nn::Linear(channels, channels));
  }
  norm3 = register_module("norm3", torch::nn::LayerNorm(torch::nn::LayerNormOptions({channels})));
  mlp_in = register_module("mlp_in", torch::nn::Linear(channels, 4 * channels));
  mlp_out = register_module("mlp_out", torch::nn::Linear(4 * channels, channels));
}

torch::Tensor TransformerBlockImpl::forward(const torch::Tensor& tokens, const torch::Tensor& emb,
                                            const torch::Tensor& context,
                                            const torch::Tensor& context_mask) {
  auto h = tokens + emb_proj(torch::silu(emb)).unsqueeze(1).to(tokens.scalar_type());
  const auto parts = qkv(layer_norm32(h, norm1)).chunk(3, -1);
  h = h + proj(attention(parts[0], parts[1], parts[2], heads, {}));
  if (q_cross && context.defined()) {
    const auto kv = kv_cross(context.to(h.scalar_type())).chunk(2, -1);
    h = h + proj_cross(attention(q_cross(layer_norm32(h, norm2)), kv[0], kv[1], heads, context_mask));
  }
  auto m = torch::gelu(mlp_in(layer_norm32(h, norm3)));
  if (dropout > 0) m = F::dropout(m, F::DropoutFuncOptions().p(dropout).training(is_training()));
  return h + mlp_out(m);
}

}  // namespace whatif::nn

#include "transformer.hpp"


#include <cmath>

#include <whatif/nn/checkpoint.hpp>
#include <whatif/registry/error.hpp>

namespace whatif_generators {

namespace {

// Rotates query/key pairs (x_i, x_{i+d/2}) by the angle of their position (RoPE, the half-split
// layout of GPT-NeoX). x [B, H, T, d]; cos/sin [T, d/2].
torch::Tensor rotate(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const auto half = x.size(-1) / 2;
  const auto x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
  return torch::cat({x1 * cos - x2 * sin, x1 * sin + x2 * cos}, -1);
}

struct TransformerState : whatif::GeneratorState {
  std::int64_t batch = 0, filled = 0;
  std::vector<torch::Tensor> keys, values;  // per layer [B, H, max_length, d], allocated on first use
  std::int64_t length() const override { return filled; }
};

}  // namespace

void TransformerConfig::check() const {
  const auto positive = [](const char* name, std::int64_t v) {
    if (v < 1) throw whatif::Error("option '" + std::string(name) + "' must be at least 1, got " + std::to_string(v));
  };
  positive("vocab_size", vocab_size);
  positive("segments", segments);
  positive("max_length", max_length);
  positive("width", width);
  positive("layers", layers);
  positive("heads", heads);
  positive("mlp_ratio", mlp_ratio);
  if (width % heads != 0 || (width / heads) % 2 != 0)
    throw whatif::Error("option 'heads' (" + std::to_string(heads) + ") must divide 'width' (" + std::to_string(width) +
                        ") into an even head width, as rotary positions rotate pairs");
  if (!(rope_base > 1)) throw whatif::Error("option 'rope_base' must be greater than 1");
}

BlockImpl::BlockImpl(std::int64_t width, std::int64_t heads, std::int64_t mlp_ratio) : heads(heads) {
  norm1 = register_module("norm1", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  norm2 = register_module("norm2", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  qkv = register_module("qkv", torch::nn::Linear(width, 3 * width));
  proj = register_module("proj", torch::nn::Linear(width, width));
  mlp_in = register_module("mlp_in", torch::nn::Linear(width, mlp_ratio * width));
  mlp_out = register_module("mlp_out", torch::nn::Linear(mlp_ratio * width, width));
}

torch::Tensor BlockImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                 torch::Tensor* k_cache, torch::Tensor* v_cache, std::int64_t past) {
  const auto b = x.size(0), t = x.size(1), c = x.size(2), d = c / heads;
  const auto parts = qkv(whatif::nn::layer_norm32(x, norm1)).view({b, t, 3, heads, d}).permute({2, 0, 3, 1, 4});
  const torch::Tensor q = rotate(parts[0], cos, sin);
  torch::Tensor k = rotate(parts[1], cos, sin), v = parts[2];
  if (k_cache) {
    k_cache->narrow(2, past, t).copy_(k);
    v_cache->narrow(2, past, t).copy_(v);
    k = k_cache->narrow(2, 0, past + t);
    v = v_cache->narrow(2, 0, past + t);
  }
  auto scores = torch::matmul(q, k.transpose(-2, -1)).to(torch::kFloat) / std::sqrt(static_cast<double>(d));
  if (t > 1) {  // query i (at position past + i) sees keys 0 .. past + i
    const auto options = torch::TensorOptions().dtype(torch::kLong).device(x.device());
    const auto future = torch::arange(past + t, options).view({1, -1}) > (torch::arange(t, options) + past).view({-1, 1});
    scores = scores.masked_fill(future, -std::numeric_limits<float>::infinity());
  }
  const auto weights = torch::softmax(scores, -1).to(v.scalar_type());
  const auto attended = torch::matmul(weights, v).transpose(1, 2).reshape({b, t, c});
  const auto h = x + proj(attended);
  return h + mlp_out(torch::gelu(mlp_in(whatif::nn::layer_norm32(h, norm2))));
}

TransformerNetImpl::TransformerNetImpl(const TransformerConfig& c) : config(c) {
  config.check();
  token_embedding = register_module("token_embedding", torch::nn::Embedding(c.vocab_size, c.width));
  segment_embedding = register_module("segment_embedding", torch::nn::Embedding(c.segments, c.width));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < c.layers; ++i) blocks->push_back(Block(c.width, c.heads, c.mlp_ratio));
  final_norm = register_module("final_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.width})));
  head = register_module("head", torch::nn::Linear(c.width, c.vocab_size));
  // GPT-2 initialisation: N(0, 0.02), residual projections scaled by 1/sqrt(2L), zero biases.
  torch::NoGradGuard no_grad;
  for (auto& item : named_parameters()) {
    const std::string& name = item.key();
    torch::Tensor& p = item.value();
    if (name.find("norm") != std::string::npos) continue;
    if (p.dim() == 1) {
      p.zero_();
      continue;
    }
    const bool residual = name.find("proj.weight") != std::string::npos || name.find("mlp_out.weight") != std::string::npos;
    p.normal_(0.0, residual ? 0.02 / std::sqrt(2.0 * static_cast<double>(c.layers)) : 0.02);
  }
  const auto d = c.width / c.heads;
  const auto inv_freq = torch::pow(c.rope_base, -torch::arange(0, d, 2, torch::kDouble) / static_cast<double>(d));
  const auto angles = torch::outer(torch::arange(c.max_length, torch::kDouble), inv_freq);
  rope_cos = register_buffer("rope_cos", angles.cos().to(torch::kFloat));
  rope_sin = register_buffer("rope_sin", angles.sin().to(torch::kFloat));
}

TransformerGenerator::TransformerGenerator(const TransformerConfig& config) : net_(config) {}

whatif::NamedTensors TransformerGenerator::named_parameters() { return whatif::nn::named_tensors(net_->named_parameters()); }

torch::Tensor TransformerGenerator::embed(const at::Tensor& tokens, const at::Tensor& segments,
                                          std::int64_t past) {
  const auto& c = net_->config;
  if (tokens.dim() != 2 || tokens.scalar_type() != torch::kLong)
    throw whatif::Error("generator/transformer: tokens must be int64 [B, T]");
  if (!segments.defined() || segments.sizes() != tokens.sizes())
    throw whatif::Error("generator/transformer: give one segment id per token ([B, T] like the tokens)");
  if (tokens.numel() > 0) {
    if (tokens.min().item<std::int64_t>() < 0 || tokens.max().item<std::int64_t>() >= c.vocab_size)
      throw whatif::Error("generator/transformer: a token is outside [0, vocab_size = " + std::to_string(c.vocab_size) +
                          "): raise option 'vocab_size'");
    if (segments.min().item<std::int64_t>() < 0 || segments.max().item<std::int64_t>() >= c.segments)
      throw whatif::Error("generator/transformer: a segment id is outside [0, segments = " + std::to_string(c.segments) +
                          "): raise option 'segments'");
  }
  if (past + tokens.size(1) > c.max_length)
    throw whatif::Error("generator/transformer: " + std::to_string(past + tokens.size(1)) +
                        " tokens are more than option 'max_length' = " + std::to_string(c.max_length));
  return net_->token_embedding(tokens) + net_->segment_embedding(segments);
}

torch::Tensor TransformerGenerator::output(const torch::Tensor& hidden) {
  return net_->head(whatif::nn::layer_norm32(hidden, net_->final_norm)).to(torch::kFloat);
}

at::Tensor TransformerGenerator::logits(const at::Tensor& tokens, const at::Tensor& segments) {
  torch::Tensor x = embed(tokens, segments, 0);
  const auto t = tokens.size(1);
  const auto cos = net_->rope_cos.narrow(0, 0, t), sin = net_->rope_sin.narrow(0, 0, t);
  const bool checkpoint = net_->config.checkpointing && net_->is_training() && torch::GradMode::is_enabled();
  for (const auto& module : *net_->blocks) {
    auto* block = module->as<BlockImpl>();
    // Gradient checkpointing (whatif::nn::checkpoint): the block's activations are recomputed in
    // backward from its input; the rotary tables are constants.
    x = checkpoint ? whatif::nn::checkpoint([block, cos, sin](const std::vector<at::Tensor>& in) {
                       return block->forward(in[0], cos, sin);
                     }, {x})
                   : block->forward(x, cos, sin);
  }
  return output(x);
}

std::unique_ptr<whatif::GeneratorState> TransformerGenerator::start(std::int64_t batch_size) {
  if (batch_size < 1) throw whatif::Error("generator/transformer: start needs a batch of at least one sequence");
  auto state = std::make_unique<TransformerState>();
  state->batch = batch_size;
  state->keys.resize(static_cast<std::size_t>(net_->config.layers));
  state->values.resize(static_cast<std::size_t>(net_->config.layers));
  return state;
}

at::Tensor TransformerGenerator::step(whatif::GeneratorState& generic, const at::Tensor& tokens,
                                      const at::Tensor& segments) {
  auto* state = dynamic_cast<TransformerState*>(&generic);
  if (!state) throw whatif::Error("generator/transformer: step was given another generator's state");
  if (tokens.dim() != 2 || tokens.size(0) != state->batch)
    throw whatif::Error("generator/transformer: step takes [B, T] tokens with the B the state was started with (" +
                        std::to_string(state->batch) + ")");
  const auto& c = net_->config;
  const std::int64_t past = state->filled, t = tokens.size(1);
  torch::Tensor x = embed(tokens, segments, past);
  const auto cos = net_->rope_cos.narrow(0, past, t), sin = net_->rope_sin.narrow(0, past, t);
  std::size_t layer = 0;
  for (const auto& module : *net_->blocks) {
    auto& k = state->keys[layer];
    auto& v = state->values[layer];
    if (!k.defined()) {
      k = torch::zeros({state->batch, c.heads, c.max_length, c.width / c.heads}, x.options());
      v = torch::zeros_like(k);
    }
    x = module->as<BlockImpl>()->forward(x, cos, sin, &k, &v, past);
    ++layer;
  }
  state->filled = past + t;
  return output(x);
}

}  // namespace whatif_generators

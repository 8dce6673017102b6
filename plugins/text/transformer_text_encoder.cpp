#include "transformer_text_encoder.hpp"

#include <cmath>
#include <limits>

#include <torch/torch.h>
#include <whatif/registry/error.hpp>

namespace whatif_text {

namespace {

// Room for the serialized model: a few KiB of specs plus, per piece, its text (at most 16
// characters of up to 4 bytes), score and type, with margin.
std::int64_t tokenizer_capacity(std::int64_t vocab_size) { return 4096 + 128 * vocab_size; }

whatif::NamedTensors to_named(const torch::OrderedDict<std::string, torch::Tensor>& dict) {
  whatif::NamedTensors named;
  named.reserve(dict.size());
  for (const auto& item : dict) named.emplace_back(item.key(), item.value());
  return named;
}

const TransformerTextOptions& checked(const TransformerTextOptions& o) {
  const auto positive = [](const char* key, std::int64_t value) {
    if (value < 1)
      throw whatif::Error(std::string("option '") + key + "' must be at least 1, got " +
                          std::to_string(value));
  };
  positive("width", o.width);
  positive("layers", o.layers);
  positive("heads", o.heads);
  if (o.pooling != "mean" && o.pooling != "eos")
    throw whatif::Error("option 'pooling' must be \"mean\" or \"eos\", got \"" + o.pooling + "\"");
  if (o.max_length < 2)
    throw whatif::Error("option 'max_length' must be at least 2 (a token and EOS), got " +
                        std::to_string(o.max_length));
  if (o.tokenizer.vocab_size < 8)
    throw whatif::Error("option 'vocab_size' must be at least 8, got " +
                        std::to_string(o.tokenizer.vocab_size));
  if (o.tokenizer.model_type != "bpe" && o.tokenizer.model_type != "unigram")
    throw whatif::Error("option 'tokenizer' must be \"bpe\" or \"unigram\", got \"" +
                        o.tokenizer.model_type + "\"");
  if (o.width % o.heads != 0)
    throw whatif::Error("option 'width' (" + std::to_string(o.width) +
                        ") must be a multiple of 'heads' (" + std::to_string(o.heads) + ")");
  return o;
}

}  // namespace

EncoderBlockImpl::EncoderBlockImpl(std::int64_t width, std::int64_t heads) : heads_(heads) {
  attention_norm_ = register_module("attention_norm",
                                    torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  qkv_ = register_module("qkv", torch::nn::Linear(width, 3 * width));
  attention_out_ = register_module("attention_out", torch::nn::Linear(width, width));
  mlp_norm_ =
      register_module("mlp_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({width})));
  mlp_in_ = register_module("mlp_in", torch::nn::Linear(width, 4 * width));
  mlp_out_ = register_module("mlp_out", torch::nn::Linear(4 * width, width));
}

void EncoderBlockImpl::initialize(std::int64_t layers) {
  // GPT-2's initialization: weights N(0, 0.02), the residual projections scaled by 1/sqrt(2L),
  // biases zero, in place of LibTorch's default (uniform ±1/sqrt(fan_in), biases included). With
  // it, a 3D model trained jointly with this encoder reads the prompt through cross-attention
  // (docs/text-conditioning.md); with the default it did not.
  torch::NoGradGuard no_grad;
  const double residual_std = 0.02 / std::sqrt(2.0 * static_cast<double>(layers));
  for (const auto& [linear, sigma] : {std::pair{&qkv_, 0.02}, {&mlp_in_, 0.02},
                                    {&attention_out_, residual_std}, {&mlp_out_, residual_std}}) {
    (*linear)->weight.normal_(0.0, sigma);
    (*linear)->bias.zero_();
  }
}

torch::Tensor EncoderBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  const auto batch = x.size(0), length = x.size(1), width = x.size(2);
  const auto head_dim = width / heads_;
  // [B, T, 3, H, d] → three [B, H, T, d]
  const auto qkv = qkv_(attention_norm_(x)).view({batch, length, 3, heads_, head_dim})
                       .permute({2, 0, 3, 1, 4});
  const auto q = qkv[0], k = qkv[1], v = qkv[2];
  auto scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(head_dim));
  // Padding keys get zero weight; every row has at least its EOS key, so no row is all -inf.
  scores = scores.masked_fill(mask.logical_not().view({batch, 1, 1, length}),
                              -std::numeric_limits<float>::infinity());
  const auto attended = torch::matmul(torch::softmax(scores, -1), v)
                            .transpose(1, 2)
                            .reshape({batch, length, width});
  const auto h = x + attention_out_(attended);
  return h + mlp_out_(torch::gelu(mlp_in_(mlp_norm_(h))));
}

TransformerTextNetImpl::TransformerTextNetImpl(const TransformerTextOptions& o) : eos_pooling_(o.pooling == "eos") {
  token_embedding_ = register_module(
      "token_embedding", torch::nn::Embedding(o.tokenizer.vocab_size, o.width));
  position_embedding_ =
      register_parameter("position_embedding", torch::empty({o.max_length, o.width}));
  {
    // GPT-2's embedding scale: small against the LayerNorm-ed residual stream.
    torch::NoGradGuard no_grad;
    token_embedding_->weight.normal_(0.0, 0.02);
    position_embedding_.normal_(0.0, 0.02);
  }
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (std::int64_t i = 0; i < o.layers; ++i) {
    EncoderBlock block(o.width, o.heads);
    block->initialize(o.layers);
    blocks_->push_back(block);
  }
  final_norm_ = register_module("final_norm",
                                torch::nn::LayerNorm(torch::nn::LayerNormOptions({o.width})));
}

std::pair<torch::Tensor, torch::Tensor> TransformerTextNetImpl::forward(const torch::Tensor& ids,
                                                                       const torch::Tensor& mask) {
  const auto length = ids.size(1);
  auto x = token_embedding_(ids) + position_embedding_.slice(0, 0, length).unsqueeze(0);
  for (const auto& block : *blocks_) x = block->as<EncoderBlock>()->forward(x, mask);
  const auto real = mask.unsqueeze(-1).to(x.scalar_type());
  const auto tokens = final_norm_(x) * real;
  if (eos_pooling_) {
    // Texts are left-aligned and end with EOS: the last real position is the mask's count − 1.
    const auto last = (mask.sum(1) - 1).clamp_min(0).to(torch::kLong);
    const auto index = last.view({-1, 1, 1}).expand({tokens.size(0), 1, tokens.size(2)});
    return {tokens, tokens.gather(1, index).squeeze(1)};
  }
  const auto pooled = tokens.sum(1) / real.sum(1).clamp_min(1.0);
  return {tokens, pooled};
}

TransformerTextEncoder::TransformerTextEncoder(const TransformerTextOptions& options)
    : options_(checked(options)),
      tokenizer_(tokenizer_capacity(options.tokenizer.vocab_size)),
      net_(options) {}

void TransformerTextEncoder::fit_tokenizer(const std::vector<std::string>& corpus,
                                           const std::string& folder) {
  if (tokenizer_.empty()) {
    const std::string serialized = train_sentencepiece(corpus, options_.tokenizer);
    const SentencePieceTokenizer trained(serialized, "the trained tokenizer");
    if (trained.vocab_size() > options_.tokenizer.vocab_size)
      throw whatif::Error("sentencepiece made " + std::to_string(trained.vocab_size()) +
                          " pieces, more than 'vocab_size' = " +
                          std::to_string(options_.tokenizer.vocab_size));
    tokenizer_.store(serialized);
  }
  if (!folder.empty()) write_tokenizer(tokenizer_.current()->serialized(), folder);
}

std::vector<std::int64_t> TransformerTextEncoder::tokenize(const std::string& text) const {
  return tokenizer_.current()->encode(text, options_.max_length, false, true);
}

std::string TransformerTextEncoder::detokenize(const std::vector<std::int64_t>& ids) const {
  return tokenizer_.current()->decode(ids);
}

whatif::TextEmbedding TransformerTextEncoder::encode(const std::vector<std::string>& texts) {
  const auto batch = tokenizer_.current()->batch(texts, options_.max_length, false, true);
  const auto mask = batch.mask.to(device_);
  auto [tokens, pooled] = net_->forward(batch.ids.to(device_), mask);
  return {tokens, mask, pooled};
}

whatif::NamedTensors TransformerTextEncoder::named_parameters() {
  return to_named(net_->named_parameters(true));
}

whatif::NamedTensors TransformerTextEncoder::named_buffers() {
  return {{"tokenizer.model", tokenizer_.buffer()}};
}

void TransformerTextEncoder::train(bool on) { net_->train(on); }

void TransformerTextEncoder::to(const c10::Device& device) {
  net_->to(device);
  device_ = device;
}

}  // namespace whatif_text

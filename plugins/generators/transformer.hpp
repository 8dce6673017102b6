#pragma once
// generator/transformer: a pre-norm decoder-only transformer (GPT-2 layout, Radford et al. 2019)
// over a shared vocabulary of image and text tokens. Each token is embedded as token + segment
// (prior image, prompt, target image, interpretation...); positions enter through rotary
// embeddings of the queries and keys (RoPE, Su et al. 2021), so attention sees relative offsets:
// the follow-up's token i finds the prior's token i at one fixed offset for every i. Incremental
// decoding keeps the rotated keys and the values of every layer in a KV cache.
#include <whatif/generator.hpp>

#include <whatif/nn/layers.hpp>

namespace whatif_generators {

struct TransformerConfig {
  std::int64_t vocab_size = 1024;
  std::int64_t segments = 4;
  std::int64_t max_length = 2048;
  std::int64_t width = 256;
  std::int64_t layers = 4;
  std::int64_t heads = 4;
  std::int64_t mlp_ratio = 4;
  double rope_base = 10000.0;
  bool checkpointing = false;  // recompute each block's activations in the backward pass

  void check() const;  // throws naming the first bad option
};

// One pre-norm block: x + attn(norm(x)), then x + mlp(norm(x)).
struct BlockImpl : torch::nn::Module {
  BlockImpl(std::int64_t width, std::int64_t heads, std::int64_t mlp_ratio);
  // Hidden states [B, T, C] at positions given by the rotation tables cos/sin [T, d/2]. With a
  // cache (k_cache, v_cache [B, H, capacity, d], `past` positions filled), the new keys/values are
  // written after the past ones and attention covers past + new; without one, attention is causal
  // over the T tokens.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        torch::Tensor* k_cache = nullptr, torch::Tensor* v_cache = nullptr,
                        std::int64_t past = 0);
  std::int64_t heads;
  torch::nn::LayerNorm norm1{nullptr}, norm2{nullptr};
  torch::nn::Linear qkv{nullptr}, proj{nullptr}, mlp_in{nullptr}, mlp_out{nullptr};
};
TORCH_MODULE(Block);

struct TransformerNetImpl : torch::nn::Module {
  explicit TransformerNetImpl(const TransformerConfig& config);
  TransformerConfig config;
  torch::nn::Embedding token_embedding{nullptr}, segment_embedding{nullptr};
  torch::nn::ModuleList blocks;
  torch::nn::LayerNorm final_norm{nullptr};
  torch::nn::Linear head{nullptr};
  torch::Tensor rope_cos, rope_sin;  // [max_length, d/2], not parameters
};
TORCH_MODULE(TransformerNet);

class TransformerGenerator : public whatif::Generator {
 public:
  explicit TransformerGenerator(const TransformerConfig& config);

  std::int64_t vocab_size() const override { return net_->config.vocab_size; }
  std::int64_t max_length() const override { return net_->config.max_length; }
  std::int64_t segment_count() const override { return net_->config.segments; }
  at::Tensor logits(const at::Tensor& tokens, const at::Tensor& segments) override;
  std::unique_ptr<whatif::GeneratorState> start(std::int64_t batch_size) override;
  at::Tensor step(whatif::GeneratorState& state, const at::Tensor& tokens,
                  const at::Tensor& segments) override;

  whatif::NamedTensors named_parameters() override;
  void train(bool on) override { net_->train(on); }
  void to(const c10::Device& device) override { net_->to(device); }

 private:
  torch::Tensor embed(const at::Tensor& tokens, const at::Tensor& segments, std::int64_t past);
  torch::Tensor output(const torch::Tensor& hidden);
  TransformerNet net_;
};

}  // namespace whatif_generators

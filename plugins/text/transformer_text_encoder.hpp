#pragma once
// text/transformer: a sentencepiece tokenizer trained on the report corpus and a small pre-norm
// transformer encoder (Vaswani et al. 2017, with the pre-LayerNorm blocks of Xiong et al. 2020).
// Tokens are the final LayerNorm's output (zero at padding); pooled is their masked mean, or with
// pooling = "eos" the state of each text's last real token (the EOS every text ends with), which
// attends to the whole text: CLIP's text pooling.
#include <torch/nn.h>

#include <whatif/text.hpp>

#include "sentencepiece_tokenizer.hpp"

namespace whatif_text {

struct TransformerTextOptions {
  TokenizerTraining tokenizer;
  std::int64_t max_length = 64;
  std::int64_t width = 128;
  std::int64_t layers = 2;
  std::int64_t heads = 4;
  std::string pooling = "mean";  // mean | eos
};

// Multi-head self-attention over real tokens only, then an MLP; both residual, both pre-norm.
class EncoderBlockImpl : public torch::nn::Module {
 public:
  EncoderBlockImpl(std::int64_t width, std::int64_t heads);
  // x [B, T, W]; mask [B, T] bool, true where a token is real.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);
  // Re-draws the weights as GPT-2 does for a stack of `layers` blocks.
  void initialize(std::int64_t layers);

 private:
  std::int64_t heads_;
  torch::nn::LayerNorm attention_norm_{nullptr}, mlp_norm_{nullptr};
  torch::nn::Linear qkv_{nullptr}, attention_out_{nullptr}, mlp_in_{nullptr}, mlp_out_{nullptr};
};
TORCH_MODULE(EncoderBlock);

class TransformerTextNetImpl : public torch::nn::Module {
 public:
  explicit TransformerTextNetImpl(const TransformerTextOptions& options);
  // ids [B, T] int64, mask [B, T] bool → tokens [B, T, W] (zero at padding), pooled [B, W].
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& ids,
                                                  const torch::Tensor& mask);

 private:
  torch::nn::Embedding token_embedding_{nullptr};
  torch::Tensor position_embedding_;
  torch::nn::ModuleList blocks_;
  torch::nn::LayerNorm final_norm_{nullptr};
  bool eos_pooling_ = false;
};
TORCH_MODULE(TransformerTextNet);

class TransformerTextEncoder : public whatif::TextEncoder {
 public:
  explicit TransformerTextEncoder(const TransformerTextOptions& options);

  // Trains the tokenizer unless one is already held (trained earlier or restored from a
  // checkpoint): the embeddings were learned against it, so it is never replaced silently.
  void fit_tokenizer(const std::vector<std::string>& corpus, const std::string& folder) override;
  std::vector<std::int64_t> tokenize(const std::string& text) const override;
  std::string detokenize(const std::vector<std::int64_t>& ids) const override;
  whatif::TextEmbedding encode(const std::vector<std::string>& texts) override;
  std::int64_t width() const override { return options_.width; }

  whatif::NamedTensors named_parameters() override;
  // "tokenizer.model": the serialized sentencepiece model (see StoredTokenizer).
  whatif::NamedTensors named_buffers() override;
  void train(bool on) override;
  void to(const c10::Device& device) override;

 private:
  TransformerTextOptions options_;
  StoredTokenizer tokenizer_;
  TransformerTextNet net_;
  c10::Device device_ = c10::Device(c10::kCPU);
};

}  // namespace whatif_text

#pragma once
// text/torchscript: a user's pretrained text encoder exported with TorchScript, fed by the
// sentencepiece model it was trained with. The module's forward must be
//
//   forward(self, ids: Tensor, mask: Tensor) -> Tuple[Tensor, Tensor]
//     ids   [B, T] int64 token ids (padded with the tokenizer's pad id, or 0)
//     mask  [B, T] bool, true where a token is real
//     returns (tokens [B, T, W], pooled [B, W]) as floating-point tensors
#include <torch/script.h>

#include <whatif/text.hpp>

#include "sentencepiece_tokenizer.hpp"

namespace whatif_text {

struct TorchScriptTextOptions {
  std::string path;       // the exported module (.pt)
  std::string tokenizer;  // its sentencepiece .model file
  std::int64_t max_length = 64;
  bool add_bos = false;
  bool add_eos = true;
  bool frozen = true;
};

class TorchScriptTextEncoder : public whatif::TextEncoder {
 public:
  explicit TorchScriptTextEncoder(const TorchScriptTextOptions& options);

  // The vocabulary is the user's: nothing is trained, the model file is copied into `folder`.
  void fit_tokenizer(const std::vector<std::string>& corpus, const std::string& folder) override;
  std::vector<std::int64_t> tokenize(const std::string& text) const override;
  std::string detokenize(const std::vector<std::int64_t>& ids) const override;
  whatif::TextEmbedding encode(const std::vector<std::string>& texts) override;
  std::int64_t width() const override { return width_; }
  bool frozen() const override { return options_.frozen; }

  whatif::NamedTensors named_parameters() override;
  void train(bool on) override;
  void to(const c10::Device& device) override;

 private:
  // Runs the module and checks its outputs against the documented signature.
  std::pair<at::Tensor, at::Tensor> run(const TokenBatch& batch);

  TorchScriptTextOptions options_;
  std::unique_ptr<SentencePieceTokenizer> tokenizer_;
  torch::jit::Module module_;
  c10::Device device_ = c10::Device(c10::kCPU);
  std::int64_t width_ = 0;
};

}  // namespace whatif_text

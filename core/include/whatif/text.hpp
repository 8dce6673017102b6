#pragma once
// kind `text`: tokenizer + text encoder → token embeddings and a pooled vector.
#include <string>
#include <vector>

#include "whatif/registry/component.hpp"
#include "whatif/tensor.hpp"

namespace whatif {

struct TextEmbedding {
  at::Tensor tokens;  // [B, T, width]
  at::Tensor mask;    // [B, T] bool, true where a token is real
  at::Tensor pooled;  // [B, width]
};

class TextEncoder : public Component, public Trainable {
 public:
  ~TextEncoder() override;

  // Trains or loads the tokenizer from a corpus (a no-op for encoders with a fixed vocabulary).
  // `folder` is where its model files are written so they can be saved with the model.
  virtual void fit_tokenizer(const std::vector<std::string>& corpus, const std::string& folder) = 0;
  virtual std::vector<std::int64_t> tokenize(const std::string& text) const = 0;
  // The text of token ids (the inverse of tokenize; control pieces such as EOS give nothing).
  // An encoder whose tokenizer cannot decode throws.
  virtual std::string detokenize(const std::vector<std::int64_t>& ids) const;
  virtual TextEmbedding encode(const std::vector<std::string>& texts) = 0;
  virtual std::int64_t width() const = 0;
  // A frozen encoder (a pretrained tower) is excluded from the optimizer.
  virtual bool frozen() const { return false; }
};

}  // namespace whatif

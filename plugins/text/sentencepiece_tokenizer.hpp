#pragma once
// Sentencepiece tokenization shared by the text encoders: training on an in-memory corpus, batching
// into padded ids with a mask, and a fixed-size byte buffer that carries the trained model inside
// checkpoints.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "sentencepiece_library.hpp"

namespace whatif_text {

struct TokenizerTraining {
  std::int64_t vocab_size = 1000;
  std::string model_type = "bpe";  // "bpe" or "unigram"
};

// libwhatif-sentencepiece.so from the folder this plugin was loaded from.
const SentencePieceLibrary& sentencepiece_library();

// Trains a sentencepiece model on `corpus` and returns it serialized. Normalization is the
// identity and every character of the corpus is kept, so decode(encode(s)) == s for corpus
// sentences; digits are split so that numbers in reports share pieces. Single-threaded, so the
// same corpus gives the same model.
std::string train_sentencepiece(const std::vector<std::string>& corpus,
                                const TokenizerTraining& spec);

// Writes `serialized` to `folder`/tokenizer.model (creating the folder), so the run directory
// holds the tokenizer next to the model.
void write_tokenizer(const std::string& serialized, const std::string& folder);

struct TokenBatch {
  at::Tensor ids;   // [B, T] int64, padded with pad_id
  at::Tensor mask;  // [B, T] bool, true where a token is real
};

class SentencePieceTokenizer {
 public:
  // `serialized` is a sentencepiece model (the bytes of a .model file); `what` names its origin in
  // error messages.
  SentencePieceTokenizer(const std::string& serialized, const std::string& what);
  ~SentencePieceTokenizer();

  // Pieces of `text` (with BOS/EOS when asked), cut to at most `max_length` ids; EOS stays last.
  std::vector<std::int64_t> encode(const std::string& text, std::int64_t max_length, bool add_bos,
                                   bool add_eos) const;
  // Pads to the longest sequence in the batch (not to max_length), so an example's ids do not
  // depend on the batch it is in.
  TokenBatch batch(const std::vector<std::string>& texts, std::int64_t max_length, bool add_bos,
                   bool add_eos) const;
  // The text of `ids`; control pieces (BOS, EOS, pad) give nothing. Throws for an id outside the
  // vocabulary.
  std::string decode(const std::vector<std::int64_t>& ids) const;
  std::int64_t vocab_size() const;
  std::int64_t pad_id() const;  // the model's pad piece, or 0 (padding is masked anyway)
  const std::string& serialized() const { return serialized_; }

 private:
  std::string serialized_;
  std::unique_ptr<SentencePieceModel> processor_;
};

// A trained tokenizer held as a uint8 tensor of fixed size, so that a checkpoint restores it by
// copying bytes into it like any other buffer. Layout: 8-byte little-endian length, the
// serialized model, zeros. The processor is rebuilt whenever the bytes change.
class StoredTokenizer {
 public:
  explicit StoredTokenizer(std::int64_t capacity);

  void store(const std::string& serialized);
  bool empty() const;
  // The tokenizer for the buffer's current bytes; throws if nothing was stored or restored.
  std::shared_ptr<const SentencePieceTokenizer> current() const;
  at::Tensor buffer() const { return buffer_; }

 private:
  std::string bytes() const;

  at::Tensor buffer_;
  mutable std::mutex mutex_;
  mutable std::shared_ptr<const SentencePieceTokenizer> loaded_;
};

}  // namespace whatif_text

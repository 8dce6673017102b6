#pragma once
// kind `generator`: an autoregressive model over a (multimodal) token vocabulary, with KV cache.
#include <memory>

#include "whatif/cond.hpp"
#include "whatif/registry/component.hpp"
#include "whatif/tensor.hpp"

namespace whatif {

// Per-sequence decoding state (the KV cache); opaque to callers.
class GeneratorState {
 public:
  virtual ~GeneratorState();
  virtual std::int64_t length() const = 0;  // tokens consumed so far
};

class Generator : public Component, public Trainable {
 public:
  ~Generator() override;

  virtual std::int64_t vocab_size() const = 0;
  virtual std::int64_t max_length() const = 0;
  // Segments (modalities: prior image, prompt, target image, text...) it embeds beside the tokens.
  // The caller, which owns the token layout, gives every token its segment id in
  // [0, segment_count()), so incremental decoding needs no knowledge of the layout here.
  virtual std::int64_t segment_count() const = 0;
  // Logits [B, T, V] for a whole token sequence [B, T] with its segment ids [B, T] (training,
  // teacher forcing).
  virtual at::Tensor logits(const at::Tensor& tokens, const at::Tensor& segments) = 0;
  // Incremental decoding: a fresh cache, then logits [B, T_new, V] for the next tokens (and their
  // segment ids), which are appended to the cache; equal to the matching rows of logits() on the
  // whole sequence.
  virtual std::unique_ptr<GeneratorState> start(std::int64_t batch_size) = 0;
  virtual at::Tensor step(GeneratorState& state, const at::Tensor& tokens,
                          const at::Tensor& segments) = 0;
};

}  // namespace whatif

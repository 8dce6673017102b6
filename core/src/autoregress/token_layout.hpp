#pragma once
// The token layout of multimodal autoregression (DESIGN.md §1 method 3): one shared vocabulary
// and one sequence per example,
//
//   [bos][prior image, G][sep][prompt, P][sep] → [target image, G][interpretation, ≤ L][end]
//
// Vocabulary: the specials pad, bos, sep, end, unk; then the text tokens the model was trained
// on; then the image codes. Text ids of the text encoder are mapped to a compact range (only ids
// the training corpus uses; others read as unk), so the vocabulary does not grow with the text
// encoder's. The prompt is padded (or cut) to P tokens, so every position before the
// interpretation is fixed and a token's segment is a function of its position: 0 = prior (bos
// and the prior's tokens), 1 = prompt (the first sep and the prompt), 2 = target image (the second
// sep and the target's tokens), 3 = interpretation (text, end and the padding after it). An
// unconditional prompt is P pads, so a guided stream and its unconditional twin share positions.
#include <cstdint>
#include <string>
#include <vector>

#include "whatif/tensor.hpp"

namespace whatif {

struct TokenLayout {
  static constexpr std::int64_t kPad = 0, kBos = 1, kSep = 2, kEnd = 3, kUnk = 4, kSpecials = 5;
  static constexpr std::int64_t kSegments = 4;
  enum Segment : std::int64_t { kPrior = 0, kPrompt = 1, kTarget = 2, kText = 3 };

  std::vector<std::int64_t> text_ids;  // vocabulary entry kSpecials + j is text id text_ids[j]
  std::int64_t codebook = 0;           // image codes, after the text tokens
  std::vector<std::int64_t> grid;      // the tokenizer's grid [*S'] of one image
  std::int64_t prompt_length = 16;     // P
  std::int64_t text_length = 64;       // L in training

  std::int64_t image_offset() const { return kSpecials + static_cast<std::int64_t>(text_ids.size()); }
  std::int64_t vocab_size() const { return image_offset() + codebook; }
  std::int64_t grid_count() const;  // G
  // Tokens before the target: [bos][prior][sep][prompt][sep].
  std::int64_t prefix_length() const { return grid_count() + prompt_length + 3; }
  // A whole sequence with up to `text` interpretation tokens and the end token.
  std::int64_t sequence_length(std::int64_t text) const { return prefix_length() + grid_count() + text + 1; }
  std::int64_t segment(std::int64_t position) const;
  // Segment ids [batch, length] of positions [first, first + length).
  at::Tensor segments(std::int64_t batch, std::int64_t first, std::int64_t length) const;

  // Text ids of the text encoder ↔ vocabulary entries (unseen ids → unk; unk and specials → none).
  std::vector<std::int64_t> text_tokens(const std::vector<std::int64_t>& ids) const;
  std::vector<std::int64_t> text_ids_of(const std::vector<std::int64_t>& tokens) const;
  bool is_text(std::int64_t token) const { return token >= kSpecials && token < image_offset(); }
  bool is_image(std::int64_t token) const { return token >= image_offset() && token < vocab_size(); }

  // [bos][prior][sep][prompt][sep] for prior codes [B, G] and prompts of text-encoder ids (cut or
  // padded to P; an empty prompt is P pads).
  at::Tensor prefix(const at::Tensor& prior_codes, const std::vector<std::vector<std::int64_t>>& prompts) const;
  // The prefix with every prompt token replaced by pad: the unconditional stream.
  at::Tensor unconditional(const at::Tensor& prefix) const;

  std::string to_json() const;
  static TokenLayout from_json(const std::string& json);
};

}  // namespace whatif

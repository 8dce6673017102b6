#pragma once
// The text tower of a trained whatif.clip as a text encoder for another model (cross-attention
// reads its token states, FiLM its pooled vector): kind `text`, name `clip`. It shares the
// tower's weights and tokenizer. Frozen, it is left out of the other model's optimizer, keeps its
// tokenizer, and encodes without gradients in evaluation mode; unfrozen, the other model fine-tunes
// it (the clip model sees the change, as both hold the same tower).
#include <memory>

#include "whatif/text.hpp"

namespace whatif {

std::shared_ptr<TextEncoder> clip_text_tower(std::shared_ptr<TextEncoder> tower, bool frozen);

}  // namespace whatif

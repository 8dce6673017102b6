// The `autoregressive` model family: whatif.autoregressive{tokenizer =, text =, generator =,
// prompt_length =, text_length =, image_weight =, text_weight =, prompt_dropout =, bf16 =}.
#include "autoregress/autoregressive_model.hpp"
#include "whatif/model_family.hpp"

namespace whatif {

ModelFamily autoregressive_family() {
  ModelFamily f;
  f.name = "autoregressive";
  f.doc = "AutoregressiveModel{tokenizer, text, generator}: [prior image][prompt] → [follow-up image]"
          "[interpretation]; grid-constrained decoding with KV cache and classifier-free guidance";
  f.parts = {"tokenizer", "text", "generator"};
  f.options = AutoregressiveConfig::fields().schema();
  f.sampling = {"seed", "guidance", "temperature", "top_k", "top_p", "max_text_length"};
  f.make = [](const ModelParts& p) -> std::shared_ptr<Model> {
    AutoregressiveParts parts;
    parts.tokenizer = p.get<Encoder>("tokenizer", true);
    parts.text = p.get<TextEncoder>("text", true);
    parts.generator = p.get<Generator>("generator", true);
    AutoregressiveConfig config;
    AutoregressiveConfig::fields().read(p.options, config);
    return std::make_shared<AutoregressiveModel>(std::move(parts), config);
  };
  return f;
}

}  // namespace whatif

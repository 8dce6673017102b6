// Generators: the decoder-only transformer of multimodal autoregression.
#include <whatif/registry/fields.hpp>
#include <whatif/registry/plugin.hpp>
#include <whatif/registry/registry.hpp>

#include "transformer.hpp"

namespace {

// Options of generator/transformer; defaults are TransformerConfig's.
const whatif::Fields<whatif_generators::TransformerConfig>& transformer_fields() {
  using T = whatif_generators::TransformerConfig;
  static const whatif::Fields<T> fields = whatif::Fields<T>()
      .add("vocab_size", &T::vocab_size, "tokens of the shared vocabulary (specials + text + image codes)")
      .add("segments", &T::segments, "segment (modality) embeddings")
      .add("max_length", &T::max_length, "longest sequence, tokens (KV cache capacity)")
      .add("width", &T::width, "embedding width")
      .add("layers", &T::layers, "transformer blocks")
      .add("heads", &T::heads, "attention heads (must divide width; width/heads even for RoPE)")
      .add("mlp_ratio", &T::mlp_ratio, "MLP hidden width / width")
      .add("rope_base", &T::rope_base, "base of the rotary position frequencies")
      .add("checkpointing", &T::checkpointing,
           "gradient checkpointing: recompute block activations in the backward pass");
  return fields;
}

void register_components(whatif::Registry& registry) {
  registry.add<whatif::Generator>(
      "generator", "transformer",
      "pre-norm decoder-only transformer, token + segment embeddings, rotary positions, KV cache",
      transformer_fields().schema(), [](const whatif::Options& o) {
        whatif_generators::TransformerConfig config;
        transformer_fields().read(o, config);
        return std::make_shared<whatif_generators::TransformerGenerator>(config);
      });
}

}  // namespace

WHATIF_PLUGIN("generators", "0.1.0", register_components)

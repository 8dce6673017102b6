// The text plugin: sentencepiece-tokenized text encoders.
#include <whatif/registry/fields.hpp>
#include <whatif/registry/plugin.hpp>
#include <whatif/registry/registry.hpp>

#include "torchscript_text_encoder.hpp"
#include "transformer_text_encoder.hpp"

namespace {

using whatif::OptionType;

// Options of the torchscript encoder; defaults are TorchScriptTextOptions'.
const whatif::Fields<whatif_text::TorchScriptTextOptions>& torchscript_fields() {
  using T = whatif_text::TorchScriptTextOptions;
  static const whatif::Fields<T> fields = whatif::Fields<T>()
      .add("path", &T::path, "the exported TorchScript module (.pt)")
      .add("tokenizer", &T::tokenizer, "the sentencepiece .model file the module was trained with")
      .add("max_length", &T::max_length, "tokens per text including BOS/EOS; longer texts are truncated")
      .add("add_bos", &T::add_bos, "prepend the tokenizer's BOS id")
      .add("add_eos", &T::add_eos, "append the tokenizer's EOS id")
      .add("frozen", &T::frozen, "keep the pretrained weights out of the optimizer");
  return fields;
}

void register_components(whatif::Registry& registry) {
  registry.add<whatif::TextEncoder>(
      "text", "transformer",
      "sentencepiece tokenizer trained on the report corpus + small pre-norm transformer; pooled "
      "= masked mean or the EOS state",
      {{"vocab_size", OptionType::Int, std::int64_t{1000},
        "upper bound on tokenizer pieces (a small corpus may give fewer); embedding rows"},
       {"tokenizer", OptionType::String, std::string("bpe"), "sentencepiece model: bpe or unigram"},
       {"max_length", OptionType::Int, std::int64_t{64},
        "tokens per text including EOS; longer texts are truncated"},
       {"width", OptionType::Int, std::int64_t{128}, "embedding width W"},
       {"layers", OptionType::Int, std::int64_t{2}, "transformer blocks"},
       {"heads", OptionType::Int, std::int64_t{4}, "attention heads (must divide width)"},
       {"pooling", OptionType::String, std::string("mean"),
        "the pooled vector: mean (masked mean of the tokens) or eos (the state of the text's EOS)"}},
      [](const whatif::Options& o) {
        whatif_text::TransformerTextOptions options;
        options.tokenizer.vocab_size = o.get_int("vocab_size");
        options.tokenizer.model_type = o.get_string("tokenizer");
        options.max_length = o.get_int("max_length");
        options.width = o.get_int("width");
        options.layers = o.get_int("layers");
        options.heads = o.get_int("heads");
        options.pooling = o.get_string("pooling");
        return std::make_shared<whatif_text::TransformerTextEncoder>(options);
      });
  registry.add<whatif::TextEncoder>(
      "text", "torchscript",
      "a user's exported TorchScript encoder: forward(ids [B,T] int64, mask [B,T] bool) -> "
      "(tokens [B,T,W], pooled [B,W])",
      torchscript_fields().schema(),
      [](const whatif::Options& o) {
        whatif_text::TorchScriptTextOptions options;
        torchscript_fields().read(o, options);
        return std::make_shared<whatif_text::TorchScriptTextEncoder>(options);
      });
}

}  // namespace

WHATIF_PLUGIN("text", "0.1.0", register_components)

// The text plugin: sentencepiece-tokenized text encoders.
#include <whatif/registry/plugin.hpp>
#include <whatif/registry/registry.hpp>

#include "torchscript_text_encoder.hpp"
#include "transformer_text_encoder.hpp"

namespace {

using whatif::OptionType;

void register_components(whatif::Registry& registry) {
  registry.add<whatif::TextEncoder>(
      "text", "transformer",
      "sentencepiece tokenizer trained on the report corpus + small pre-norm transformer; pooled "
      "= masked mean",
      {{"vocab_size", OptionType::Int, std::int64_t{1000},
        "upper bound on tokenizer pieces (a small corpus may give fewer); embedding rows"},
       {"tokenizer", OptionType::String, std::string("bpe"), "sentencepiece model: bpe or unigram"},
       {"max_length", OptionType::Int, std::int64_t{64},
        "tokens per text including EOS; longer texts are truncated"},
       {"width", OptionType::Int, std::int64_t{128}, "embedding width W"},
       {"layers", OptionType::Int, std::int64_t{2}, "transformer blocks"},
       {"heads", OptionType::Int, std::int64_t{4}, "attention heads (must divide width)"}},
      [](const whatif::Options& o) {
        whatif_text::TransformerTextOptions options;
        options.tokenizer.vocab_size = o.get_int("vocab_size");
        options.tokenizer.model_type = o.get_string("tokenizer");
        options.max_length = o.get_int("max_length");
        options.width = o.get_int("width");
        options.layers = o.get_int("layers");
        options.heads = o.get_int("heads");
        return std::make_shared<whatif_text::TransformerTextEncoder>(options);
      });
  registry.add<whatif::TextEncoder>(
      "text", "torchscript",
      "a user's exported TorchScript encoder: forward(ids [B,T] int64, mask [B,T] bool) -> "
      "(tokens [B,T,W], pooled [B,W])",
      {{"path", OptionType::String, std::string(), "the exported TorchScript module (.pt)"},
       {"tokenizer", OptionType::String, std::string(),
        "the sentencepiece .model file the module was trained with"},
       {"max_length", OptionType::Int, std::int64_t{64},
        "tokens per text including BOS/EOS; longer texts are truncated"},
       {"add_bos", OptionType::Bool, false, "prepend the tokenizer's BOS id"},
       {"add_eos", OptionType::Bool, true, "append the tokenizer's EOS id"},
       {"frozen", OptionType::Bool, true, "keep the pretrained weights out of the optimizer"}},
      [](const whatif::Options& o) {
        whatif_text::TorchScriptTextOptions options;
        options.path = o.get_string("path");
        options.tokenizer = o.get_string("tokenizer");
        options.max_length = o.get_int("max_length");
        options.add_bos = o.get_bool("add_bos");
        options.add_eos = o.get_bool("add_eos");
        options.frozen = o.get_bool("frozen");
        return std::make_shared<whatif_text::TorchScriptTextEncoder>(options);
      });
}

}  // namespace

WHATIF_PLUGIN("text", "0.1.0", register_components)

#include <torch/torch.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "plugins/text/report_corpus.hpp"
#include "support/plugins.hpp"
#include "text/sentencepiece_library.hpp"
#include "whatif/registry/error.hpp"

namespace {

std::unique_ptr<whatif_text::SentencePieceModel> load_stored(const at::Tensor& buffer) {
  return whatif_text::open_sentencepiece(std::string(WHATIF_PLUGIN_DIR) + "/" +
                                         whatif_text::kSentencePieceLibraryFile)
      .load(whatif_test::stored_model(buffer));
}

std::vector<std::int64_t> embedding_rows_used(const std::vector<std::vector<std::int64_t>>& ids) {
  std::vector<std::int64_t> rows;
  for (const auto& row : ids) rows.insert(rows.end(), row.begin(), row.end());
  return rows;
}

}  // namespace

CATCH_TEST_CASE("text/transformer: the stored tokenizer decodes every corpus sentence back") {
  whatif::Registry registry;
  registry.load(whatif::test::plugin_path("text"));
  const auto corpus = whatif_test::report_corpus();
  for (const std::string model_type : {"bpe", "unigram"}) {
    CATCH_SECTION(model_type) {
      // Long enough for unigram, which on this small corpus keeps mostly single characters.
      const auto encoder = whatif_test::make_transformer(registry, 32, model_type, 128);
      encoder->fit_tokenizer(corpus, "");
      const auto buffer = whatif_test::named(encoder->named_buffers(), "tokenizer.model");
      CATCH_REQUIRE(buffer.scalar_type() == at::kByte);
      const auto processor = load_stored(buffer);
      CATCH_REQUIRE(processor->piece_size() <= 200);
      for (const auto& sentence : corpus) {
        const auto ids = encoder->tokenize(sentence);
        CATCH_REQUIRE(ids.back() == processor->eos_id());
        const std::vector<int> pieces(ids.begin(), ids.end() - 1);
        CATCH_REQUIRE(processor->decode(pieces) == sentence);
        // Every character of the corpus is in the vocabulary.
        for (const int id : pieces) CATCH_REQUIRE(id != processor->unk_id());
      }
    }
  }
}

CATCH_TEST_CASE("text/transformer: the padding mask is correct and padding changes nothing") {
  whatif::Registry registry;
  registry.load(whatif::test::plugin_path("text"));
  torch::manual_seed(1);
  const auto encoder = whatif_test::make_transformer(registry);
  encoder->fit_tokenizer(whatif_test::report_corpus(), "");
  encoder->train(false);
  const std::string short_text = "No new lesions.";
  const std::string long_text =
      "There are several confluent lesions in the periventricular white matter.";
  const auto alone = encoder->encode({short_text});
  const auto batched = encoder->encode({long_text, short_text});
  const auto short_length = static_cast<std::int64_t>(encoder->tokenize(short_text).size());
  const auto long_length = static_cast<std::int64_t>(encoder->tokenize(long_text).size());
  CATCH_REQUIRE(long_length > short_length);

  CATCH_REQUIRE(alone.tokens.sizes() == at::IntArrayRef({1, short_length, 32}));
  CATCH_REQUIRE(batched.tokens.sizes() == at::IntArrayRef({2, long_length, 32}));
  CATCH_REQUIRE(batched.pooled.sizes() == at::IntArrayRef({2, 32}));
  const auto expected_mask =
      at::arange(long_length).unsqueeze(0) < at::tensor({long_length, short_length}).unsqueeze(1);
  CATCH_REQUIRE(at::equal(batched.mask, expected_mask));
  CATCH_REQUIRE(alone.mask.all().item<bool>());

  const auto padded_row = batched.tokens[1];
  CATCH_REQUIRE(at::allclose(padded_row.slice(0, 0, short_length), alone.tokens[0], 1e-5, 1e-5));
  CATCH_REQUIRE(
      at::equal(padded_row.slice(0, short_length), at::zeros({long_length - short_length, 32})));
  CATCH_REQUIRE(at::allclose(batched.pooled[1], alone.pooled[0], 1e-5, 1e-5));
  // pooled is the masked mean of the tokens.
  CATCH_REQUIRE(
      at::allclose(batched.pooled[1], padded_row.slice(0, 0, short_length).mean(0), 1e-5, 1e-6));
}

CATCH_TEST_CASE("text/transformer: long texts are truncated to max_length, EOS kept last") {
  whatif::Registry registry;
  registry.load(whatif::test::plugin_path("text"));
  const auto encoder = whatif_test::make_transformer(registry);
  encoder->fit_tokenizer(whatif_test::report_corpus(), "");
  std::string rambling;
  for (int i = 0; i < 10; ++i) rambling += "There are two small lesions in the deep white matter. ";
  const auto ids = encoder->tokenize(rambling);
  CATCH_REQUIRE(ids.size() == 32);
  CATCH_REQUIRE(ids.back() == encoder->tokenize("").back());
  const auto embedding = encoder->encode({rambling, ""});
  CATCH_REQUIRE(embedding.tokens.size(1) == 32);
  CATCH_REQUIRE(embedding.mask.sum(1).equal(at::tensor({32, 1})));
}

CATCH_TEST_CASE("text/transformer: restoring parameters and the tokenizer buffer reproduces it") {
  whatif::Registry registry;
  registry.load(whatif::test::plugin_path("text"));
  const auto corpus = whatif_test::report_corpus();
  const auto trained = whatif_test::make_transformer(registry);
  trained->fit_tokenizer(corpus, "");
  const auto restored = whatif_test::make_transformer(registry);
  CATCH_REQUIRE_THROWS_WITH(restored->tokenize("lesion"), Catch::Contains("no tokenizer"));

  // What a checkpoint does: copy every stored tensor into the fresh object's tensor of that name.
  {
    torch::NoGradGuard no_grad;
    const auto source_parameters = trained->named_parameters();
    const auto target_parameters = restored->named_parameters();
    CATCH_REQUIRE(source_parameters.size() == target_parameters.size());
    for (const auto& [name, tensor] : target_parameters)
      tensor.copy_(whatif_test::named(source_parameters, name));
    for (const auto& [name, tensor] : restored->named_buffers())
      tensor.copy_(whatif_test::named(trained->named_buffers(), name));
  }
  trained->train(false);
  restored->train(false);
  const std::vector<std::string> texts{corpus[3], "Overall high lesion load.", corpus[40]};
  const auto expected = trained->encode(texts);
  const auto actual = restored->encode(texts);
  CATCH_REQUIRE(at::equal(actual.tokens, expected.tokens));
  CATCH_REQUIRE(at::equal(actual.pooled, expected.pooled));
  CATCH_REQUIRE(at::equal(actual.mask, expected.mask));

  // Fitting again keeps the restored tokenizer (the embeddings were learned against it) and
  // writes it next to the model.
  const auto folder =
      std::filesystem::temp_directory_path() / ("whatif-text-" + std::to_string(::getpid()));
  restored->fit_tokenizer({"An unrelated corpus.", "Nothing alike."}, folder.string());
  CATCH_REQUIRE(restored->tokenize(corpus[3]) == trained->tokenize(corpus[3]));
  std::ifstream in(folder / "tokenizer.model", std::ios::binary);
  std::stringstream written;
  written << in.rdbuf();
  CATCH_REQUIRE(written.str() == whatif_test::stored_model(whatif_test::named(
                                     trained->named_buffers(), "tokenizer.model")));
  std::filesystem::remove_all(folder);
}

CATCH_TEST_CASE("text/transformer: every parameter gets a gradient") {
  whatif::Registry registry;
  registry.load(whatif::test::plugin_path("text"));
  torch::manual_seed(2);
  const auto encoder = whatif_test::make_transformer(registry);
  const auto corpus = whatif_test::report_corpus();
  encoder->fit_tokenizer(corpus, "");
  const std::vector<std::string> texts{corpus[0], corpus[50], "Overall minimal lesion load."};
  const auto embedding = encoder->encode(texts);
  // Random weights, so no term cancels through the final LayerNorm.
  const auto loss = (embedding.tokens * torch::randn_like(embedding.tokens)).sum() +
                    (embedding.pooled * torch::randn_like(embedding.pooled)).sum();
  loss.backward();
  std::vector<std::vector<std::int64_t>> ids;
  for (const auto& text : texts) ids.push_back(encoder->tokenize(text));
  for (const auto& [name, parameter] : encoder->named_parameters()) {
    CATCH_INFO(name);
    CATCH_REQUIRE(parameter.grad().defined());
    if (name == "token_embedding.weight") {
      // Only the rows of the tokens in the batch can receive a gradient.
      const auto used = torch::tensor(embedding_rows_used(ids));
      CATCH_REQUIRE((parameter.grad().index_select(0, used).abs().sum(1) > 0).all().item<bool>());
    } else {
      CATCH_REQUIRE(parameter.grad().abs().sum().item<double>() > 0);
    }
  }
}

CATCH_TEST_CASE("text/transformer: untrained, prompts one word apart are encoded apart") {
  // A denoiser trained jointly with the encoder starts from what the untrained output tells apart.
  // Swapping one of T tokens moves the masked-mean pooled vector by about |LN(a) - LN(b)| / T =
  // sqrt(2 W) / T against a pooled norm of at most sqrt(W): a relative move near sqrt(2) / T when
  // the token content reaches the output. The floor asks for a third of it.
  whatif::Registry registry;
  registry.load(whatif::test::plugin_path("text"));
  for (const std::int64_t width : {32, 64}) {
    CATCH_SECTION("width " + std::to_string(width)) {
      torch::manual_seed(3);
      const auto encoder = whatif_test::make_transformer(registry, width);
      encoder->fit_tokenizer(whatif_test::report_corpus(), "");
      encoder->train(false);
      const std::string minimal = "minimal lesion load";
      const std::string high = "high lesion load";
      const auto pooled = encoder->encode({minimal, high}).pooled;
      const double length = static_cast<double>(encoder->tokenize(minimal).size());
      const double relative = (pooled[0] - pooled[1]).norm().item<double>() /
                              pooled[0].norm().item<double>();
      CATCH_INFO("relative move " << relative << " over " << length << " tokens");
      CATCH_REQUIRE(relative > std::sqrt(2.0) / length / 3.0);
    }
  }
}

CATCH_TEST_CASE("text/transformer: blocks start as GPT-2 does (N(0, 0.02), residual 0.02/sqrt(2L), no bias)") {
  whatif::Registry registry;
  registry.load(whatif::test::plugin_path("text"));
  torch::manual_seed(4);
  const auto encoder = whatif_test::make_transformer(registry, 64);  // 2 layers
  const double residual = 0.02 / std::sqrt(2.0 * 2.0);
  int checked = 0;
  for (const auto& [name, parameter] : encoder->named_parameters()) {
    CATCH_INFO(name);
    const auto ends = [&](const std::string& suffix) {
      return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (name.rfind("blocks.", 0) != 0 || ends("norm.weight") || ends("norm.bias")) continue;
    if (ends(".bias")) {
      CATCH_REQUIRE(parameter.abs().max().item<double>() == 0.0);
    } else {
      const bool projection = ends("attention_out.weight") || ends("mlp_out.weight");
      const double expected = projection ? residual : 0.02;
      // The sample std of n >= 4096 normal draws is within 5 % of sigma with overwhelming odds.
      CATCH_REQUIRE(std::abs(parameter.std().item<double>() / expected - 1.0) < 0.05);
      CATCH_REQUIRE(std::abs(parameter.mean().item<double>()) < 0.1 * expected);
    }
    ++checked;
  }
  CATCH_REQUIRE(checked == 2 * 8);  // qkv, attention_out, mlp_in, mlp_out: weight and bias, 2 blocks
}

CATCH_TEST_CASE("text/transformer: bad options are refused with the key to change") {
  whatif::Registry registry;
  registry.load(whatif::test::plugin_path("text"));
  whatif::Options options;
  options.set("width", std::int64_t{30});
  options.set("heads", std::int64_t{4});
  CATCH_REQUIRE_THROWS_WITH(registry.create("text", "transformer", options),
                            Catch::Contains("multiple of 'heads'"));
  whatif::Options wrong_model;
  wrong_model.set("tokenizer", std::string("wordpiece"));
  CATCH_REQUIRE_THROWS_WITH(registry.create("text", "transformer", wrong_model),
                            Catch::Contains("\"bpe\" or \"unigram\""));
}

CATCH_TEST_CASE("text/transformer: pooling = eos gives each text's EOS state, unmoved by padding") {
  whatif::Registry registry;
  registry.load(whatif::test::plugin_path("text"));
  torch::manual_seed(2);
  whatif::Options options;
  options.set("width", std::int64_t{32});
  options.set("heads", std::int64_t{4});
  options.set("vocab_size", std::int64_t{200});
  options.set("max_length", std::int64_t{32});
  options.set("pooling", std::string("eos"));
  const auto encoder = registry.create_as<whatif::TextEncoder>("text", "transformer", options);
  encoder->fit_tokenizer(whatif_test::report_corpus(), "");
  encoder->train(false);
  const std::vector<std::string> texts{"There are several confluent lesions in the periventricular white matter.",
                                       "No new lesions.", "minimal lesion load"};
  const auto batched = encoder->encode(texts);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const auto length = static_cast<std::int64_t>(encoder->tokenize(texts[i]).size());
    const auto b = static_cast<std::int64_t>(i);
    // The state at the last real position (EOS: every tokenized text ends with it) ...
    CATCH_CHECK(encoder->tokenize(texts[i]).back() == encoder->tokenize("").back());
    CATCH_CHECK(at::equal(batched.pooled[b], batched.tokens[b][length - 1]));
    // ... the same whether the text is padded in a batch or alone.
    CATCH_CHECK(at::allclose(batched.pooled[b], encoder->encode({texts[i]}).pooled[0], 1e-5, 1e-5));
  }
  // Not the mean: a text of more than one token pools to another vector than the mean.
  CATCH_CHECK_FALSE(at::allclose(batched.pooled[1], batched.tokens[1].slice(0, 0, 4).mean(0), 1e-3, 1e-3));
  options.set("pooling", std::string("max"));
  CATCH_REQUIRE_THROWS_WITH(registry.create("text", "transformer", options), Catch::Contains("'pooling'"));
}

#include <torch/script.h>
#include <torch/torch.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "plugins/text/report_corpus.hpp"
#include "support/plugins.hpp"
#include "text/sentencepiece_library.hpp"
#include "whatif/registry/error.hpp"

namespace {

// A user's encoder as TorchScript: embedding, linear map, tanh, zeroed padding, masked mean.
const char* kTinyEncoder = R"JIT(
def forward(self, ids: Tensor, mask: Tensor) -> Tuple[Tensor, Tensor]:
    real = mask.unsqueeze(-1).to(self.embedding.dtype)
    x = torch.tanh(torch.matmul(torch.embedding(self.embedding, ids), self.projection)) * real
    return x, x.sum(1) / real.sum(1)
)JIT";

// The same computation written with ATen in C++.
std::pair<at::Tensor, at::Tensor> reference(const at::Tensor& embedding,
                                            const at::Tensor& projection, const at::Tensor& ids,
                                            const at::Tensor& mask) {
  const auto real = mask.unsqueeze(-1).to(at::kFloat);
  const auto x = at::tanh(at::matmul(at::embedding(embedding, ids), projection)) * real;
  return {x, x.sum(1) / real.sum(1)};
}

struct Fixture {
  std::filesystem::path folder =
      std::filesystem::temp_directory_path() / ("whatif-torchscript-" + std::to_string(::getpid()));
  std::string tokenizer = (folder / "tokenizer.model").string();
  std::string module_path = (folder / "encoder.pt").string();
  at::Tensor embedding, projection;

  explicit Fixture(whatif::Registry& registry) {
    // The tokenizer file comes from the transformer plugin's trainer, written where a run would.
    const auto trainer = whatif_test::make_transformer(registry);
    trainer->fit_tokenizer(whatif_test::report_corpus(), folder.string());
    const auto pieces = whatif_test::named(trainer->named_buffers(), "tokenizer.model");
    const auto processor = whatif_text::open_sentencepiece(std::string(WHATIF_PLUGIN_DIR) + "/" +
                                                           whatif_text::kSentencePieceLibraryFile)
                               .load(whatif_test::stored_model(pieces));
    torch::manual_seed(3);
    embedding = torch::randn({processor->piece_size(), 8});
    projection = torch::randn({8, 8}) / 3;
    torch::jit::Module module("TinyTextEncoder");
    module.register_parameter("embedding", embedding.clone(), false);
    module.register_parameter("projection", projection.clone(), false);
    module.define(kTinyEncoder);
    module.save(module_path);
  }
  ~Fixture() { std::filesystem::remove_all(folder); }

  std::shared_ptr<whatif::TextEncoder> load(whatif::Registry& registry, bool frozen) const {
    whatif::Options options;
    options.set("path", module_path);
    options.set("tokenizer", tokenizer);
    options.set("frozen", frozen);
    return registry.create_as<whatif::TextEncoder>("text", "torchscript", options);
  }
};

// Ids and mask built from tokenize(): the public view of what the encoder feeds its module.
std::pair<at::Tensor, at::Tensor> padded_ids(const whatif::TextEncoder& encoder,
                                             const std::vector<std::string>& texts) {
  std::vector<std::vector<std::int64_t>> rows;
  std::int64_t longest = 0;
  for (const auto& text : texts) {
    rows.push_back(encoder.tokenize(text));
    longest = std::max<std::int64_t>(longest, static_cast<std::int64_t>(rows.back().size()));
  }
  auto ids = at::zeros({static_cast<std::int64_t>(texts.size()), longest}, at::kLong);
  auto mask = at::zeros_like(ids, at::kBool);
  for (std::size_t b = 0; b < rows.size(); ++b) {
    const auto n = static_cast<std::int64_t>(rows[b].size());
    ids[static_cast<std::int64_t>(b)].slice(0, 0, n).copy_(at::tensor(rows[b]));
    mask[static_cast<std::int64_t>(b)].slice(0, 0, n).fill_(true);
  }
  return {ids, mask};
}

}  // namespace

CATCH_TEST_CASE("text/torchscript: a saved module gives what the same computation gives in C++") {
  whatif::Registry registry;
  registry.load(whatif::test::plugin_path("text"));
  const Fixture fixture(registry);
  const auto encoder = fixture.load(registry, true);
  CATCH_REQUIRE(encoder->width() == 8);
  CATCH_REQUIRE(encoder->frozen());

  const std::vector<std::string> texts{"Overall high lesion load, volume 3.5 ml.",
                                       "No new lesions.",
                                       "There are two small lesions in the deep white matter."};
  const auto embedding = encoder->encode(texts);
  const auto [ids, mask] = padded_ids(*encoder, texts);
  // Padding ids differ (pad piece vs 0) but are masked, so the outputs must agree.
  CATCH_REQUIRE(at::equal(embedding.mask, mask));
  const auto [tokens, pooled] = reference(fixture.embedding, fixture.projection, ids, mask);
  CATCH_REQUIRE(at::allclose(embedding.tokens, tokens, 1e-6, 1e-6));
  CATCH_REQUIRE(at::allclose(embedding.pooled, pooled, 1e-6, 1e-6));
  CATCH_REQUIRE(encoder->tokenize(texts[1]).back() == 2);  // sentencepiece's EOS id

  const auto parameters = encoder->named_parameters();
  CATCH_REQUIRE(parameters.size() == 2);
  CATCH_REQUIRE(at::equal(whatif_test::named(parameters, "projection"), fixture.projection));
  for (const auto& [name, parameter] : parameters) CATCH_REQUIRE_FALSE(parameter.requires_grad());
}

CATCH_TEST_CASE("text/torchscript: unfrozen, its parameters train and restore by name") {
  whatif::Registry registry;
  registry.load(whatif::test::plugin_path("text"));
  const Fixture fixture(registry);
  const auto encoder = fixture.load(registry, false);
  CATCH_REQUIRE_FALSE(encoder->frozen());
  const std::vector<std::string> texts{"Overall low lesion load, volume 3.5 ml.", "No lesions."};
  const auto embedding = encoder->encode(texts);
  (embedding.pooled * torch::randn_like(embedding.pooled)).sum().backward();
  for (const auto& [name, parameter] : encoder->named_parameters()) {
    CATCH_INFO(name);
    CATCH_REQUIRE(parameter.grad().defined());
    CATCH_REQUIRE(parameter.grad().abs().sum().item<double>() > 0);
  }
  // A checkpoint's values copied in by name replace the exported ones.
  const auto other_projection = torch::eye(8);
  {
    torch::NoGradGuard no_grad;
    whatif_test::named(encoder->named_parameters(), "projection").copy_(other_projection);
  }
  const auto [ids, mask] = padded_ids(*encoder, texts);
  const auto expected = reference(fixture.embedding, other_projection, ids, mask).second;
  CATCH_REQUIRE(at::allclose(encoder->encode(texts).pooled, expected, 1e-6, 1e-6));
}

CATCH_TEST_CASE("text/torchscript: missing files and wrong signatures are named") {
  whatif::Registry registry;
  registry.load(whatif::test::plugin_path("text"));
  const Fixture fixture(registry);
  whatif::Options missing;
  missing.set("path", (fixture.folder / "absent.pt").string());
  missing.set("tokenizer", fixture.tokenizer);
  CATCH_REQUIRE_THROWS_WITH(
      registry.create("text", "torchscript", missing),
      Catch::Contains("no TorchScript module at") && Catch::Contains("absent.pt"));

  torch::jit::Module single("SingleOutput");
  single.define(
      "def forward(self, ids: Tensor, mask: Tensor) -> Tensor:\n    return ids.float()\n");
  const auto single_path = (fixture.folder / "single.pt").string();
  single.save(single_path);
  whatif::Options wrong;
  wrong.set("path", single_path);
  wrong.set("tokenizer", fixture.tokenizer);
  CATCH_REQUIRE_THROWS_WITH(registry.create("text", "torchscript", wrong),
                            Catch::Contains("must return (tokens [B, T, W], pooled [B, W])"));
}

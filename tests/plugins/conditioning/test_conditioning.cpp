#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "plugins/text/report_corpus.hpp"
#include "whatif/conditioning.hpp"
#include "whatif/registry/error.hpp"

namespace {

const std::string kPluginDir = WHATIF_PLUGIN_DIR;

struct Plugins {
  whatif::Registry registry;
  Plugins() {
    registry.load(kPluginDir + "/libwhatif-plugin-text.so");
    registry.load(kPluginDir + "/libwhatif-plugin-conditioning.so");
  }
  std::shared_ptr<whatif::Conditioning> make(const std::string& name, whatif::Options options) {
    return registry.create_as<whatif::Conditioning>("conditioning", name, options);
  }
};

whatif::Options with(std::initializer_list<std::pair<const char*, whatif::Value>> values) {
  whatif::Options options;
  for (const auto& [key, value] : values) options.set(key, value);
  return options;
}

at::Tensor linear(const whatif::NamedTensors& parameters, const std::string& prefix,
                  const at::Tensor& x) {
  return at::linear(x, whatif_test::named(parameters, prefix + ".weight"),
                    whatif_test::named(parameters, prefix + ".bias"));
}

const std::vector<std::string> kTexts{"No new lesions.", "Overall high lesion load, volume 3.5 ml.",
                                      "There are two small lesions in the deep white matter."};

}  // namespace

CATCH_TEST_CASE(
    "conditioning/cross-attention: projected text tokens; drop swaps exactly the rows") {
  Plugins plugins;
  torch::manual_seed(4);
  const auto text = whatif_test::make_transformer(plugins.registry);
  text->fit_tokenizer(whatif_test::report_corpus(), "");
  for (const std::string null_kind : {"learned", "zeros"}) {
    CATCH_SECTION(null_kind) {
      const auto scheme = plugins.make(
          "cross-attention",
          with({{"context_dim", std::int64_t{16}}, {"null", null_kind}, {"dropout", 0.25}}));
      scheme->attach_text(text);
      CATCH_REQUIRE(scheme->dropout() == 0.25);
      whatif::CondInput input;
      input.text = kTexts;
      const auto cond = scheme->encode(input);
      const auto embedding = text->encode(kTexts);
      CATCH_REQUIRE(at::allclose(cond.context,
                                 linear(scheme->named_parameters(), "projection", embedding.tokens),
                                 1e-5, 1e-6));
      CATCH_REQUIRE(at::equal(cond.context_mask, embedding.mask));
      CATCH_REQUIRE_FALSE(cond.vector.defined());

      const auto null = scheme->null(3);
      CATCH_REQUIRE(null.context.sizes() == at::IntArrayRef({3, 1, 16}));
      CATCH_REQUIRE(null.context_mask.all().item<bool>());
      if (null_kind == "zeros")
        CATCH_REQUIRE(at::equal(null.context, at::zeros({3, 1, 16})));
      else
        CATCH_REQUIRE(null.context.abs().sum().item<double>() > 0);

      const auto dropped = scheme->drop(cond, torch::tensor({false, true, false}));
      const auto length = cond.context.size(1);
      for (const std::int64_t kept : {0, 2}) {
        CATCH_REQUIRE(at::equal(dropped.context[kept], cond.context[kept]));
        CATCH_REQUIRE(at::equal(dropped.context_mask[kept], cond.context_mask[kept]));
      }
      // The dropped row is the one null token, then masked zero padding.
      CATCH_REQUIRE(at::equal(dropped.context[1][0], null.context[1][0]));
      CATCH_REQUIRE(at::equal(dropped.context[1].slice(0, 1), at::zeros({length - 1, 16})));
      CATCH_REQUIRE(at::equal(dropped.context_mask[1], at::arange(length) < 1));
    }
  }
}

CATCH_TEST_CASE("conditioning/film: projected pooled text; dropped rows become the null vector") {
  Plugins plugins;
  const auto text = whatif_test::make_transformer(plugins.registry);
  text->fit_tokenizer(whatif_test::report_corpus(), "");
  const auto scheme = plugins.make("film", with({{"vector_dim", std::int64_t{12}}}));
  CATCH_REQUIRE_THROWS_WITH(scheme->encode(whatif::CondInput{kTexts, {}, {}}),
                            Catch::Contains("no text encoder attached"));
  scheme->attach_text(text);
  const auto cond = scheme->encode(whatif::CondInput{kTexts, {}, {}});
  const auto reference =
      linear(scheme->named_parameters(), "projection", text->encode(kTexts).pooled);
  CATCH_REQUIRE(at::allclose(cond.vector, reference, 1e-5, 1e-6));
  CATCH_REQUIRE_FALSE(cond.context.defined());

  const auto drop = torch::tensor({true, false, true});
  const auto dropped = scheme->drop(cond, drop);
  const auto null = scheme->null(3);
  CATCH_REQUIRE(at::equal(dropped.vector[0], null.vector[0]));
  CATCH_REQUIRE(at::equal(dropped.vector[1], cond.vector[1]));
  CATCH_REQUIRE(at::equal(dropped.vector[2], null.vector[2]));
  CATCH_REQUIRE(at::equal(scheme->drop(cond, torch::zeros({3}, torch::kBool)).vector, cond.vector));
  CATCH_REQUIRE_THROWS_WITH(scheme->drop(cond, torch::zeros({3})), Catch::Contains("[B] bool"));
}

CATCH_TEST_CASE("conditioning/cross-attention with vector_dim: tokens to context and the pooled text to a "
                "FiLM vector; a dropped row loses both") {
  Plugins plugins;
  torch::manual_seed(5);
  const auto text = whatif_test::make_transformer(plugins.registry);
  text->fit_tokenizer(whatif_test::report_corpus(), "");
  CATCH_REQUIRE_THROWS_WITH(plugins.make("cross-attention", with({{"vector_dim", std::int64_t{-1}}})),
                            Catch::Contains("vector_dim"));
  const auto scheme = plugins.make(
      "cross-attention", with({{"context_dim", std::int64_t{16}}, {"vector_dim", std::int64_t{12}}}));
  scheme->attach_text(text);
  const auto cond = scheme->encode(whatif::CondInput{kTexts, {}, {}});
  const auto embedding = text->encode(kTexts);
  const auto parameters = scheme->named_parameters();
  CATCH_REQUIRE(at::allclose(cond.context, linear(parameters, "projection", embedding.tokens), 1e-5, 1e-6));
  CATCH_REQUIRE(at::allclose(cond.vector, linear(parameters, "vector_projection", embedding.pooled), 1e-5, 1e-6));
  CATCH_REQUIRE(cond.vector.sizes() == at::IntArrayRef({3, 12}));

  const auto null = scheme->null(3);
  CATCH_REQUIRE(null.context.sizes() == at::IntArrayRef({3, 1, 16}));
  CATCH_REQUIRE(null.vector.sizes() == at::IntArrayRef({3, 12}));
  CATCH_REQUIRE(at::equal(null.vector[0], whatif_test::named(parameters, "null_vector")));
  const auto dropped = scheme->drop(cond, torch::tensor({false, true, false}));
  CATCH_REQUIRE(at::equal(dropped.vector[0], cond.vector[0]));
  CATCH_REQUIRE(at::equal(dropped.vector[1], null.vector[1]));
  CATCH_REQUIRE(at::equal(dropped.context[1][0], null.context[1][0]));
  CATCH_REQUIRE(at::equal(dropped.context[2], cond.context[2]));
}

CATCH_TEST_CASE("conditioning/concat: the source passes through; null and dropped rows are zeros") {
  Plugins plugins;
  const auto scheme = plugins.make("concat", with({{"channels", std::int64_t{2}}}));
  CATCH_REQUIRE_THROWS_WITH(scheme->null(2), Catch::Contains("option 'size'"));
  whatif::CondInput input;
  input.source = torch::randn({3, 2, 4, 5, 6});
  const auto cond = scheme->encode(input);
  CATCH_REQUIRE(at::equal(cond.spatial, input.source));
  CATCH_REQUIRE(at::equal(scheme->null(2).spatial, at::zeros({2, 2, 4, 5, 6})));
  const auto dropped = scheme->drop(cond, torch::tensor({false, true, true}));
  CATCH_REQUIRE(at::equal(dropped.spatial[0], input.source[0]));
  CATCH_REQUIRE(at::equal(dropped.spatial.slice(0, 1), at::zeros({2, 2, 4, 5, 6})));
  CATCH_REQUIRE(scheme->named_parameters().empty());

  input.source = torch::randn({1, 3, 8, 8});
  CATCH_REQUIRE_THROWS_WITH(scheme->encode(input), Catch::Contains("option 'channels'"));
  const auto sized = plugins.make("concat", with({{"size", std::vector<std::int64_t>{8, 8}}}));
  CATCH_REQUIRE(sized->null(1).spatial.sizes() == at::IntArrayRef({1, 1, 8, 8}));
}

CATCH_TEST_CASE("conditioning/attributes: equal attributes, equal conditions; matches by hand") {
  Plugins plugins;
  torch::manual_seed(5);
  const auto scheme =
      plugins.make("attributes", with({{"categories", std::vector<std::int64_t>{0, 3}},
                                       {"width", std::int64_t{16}},
                                       {"vector_dim", std::int64_t{8}},
                                       {"context_dim", std::int64_t{4}}}));
  whatif::CondInput input;
  input.attributes = torch::tensor({0.5, 2.0, -1.0, 0.0, 0.5, 2.0, 0.5, 1.0}).view({4, 2});
  const auto cond = scheme->encode(input);
  CATCH_REQUIRE(cond.vector.sizes() == at::IntArrayRef({4, 8}));
  CATCH_REQUIRE(cond.context.sizes() == at::IntArrayRef({4, 1, 4}));
  CATCH_REQUIRE(cond.context_mask.all().item<bool>());
  // Rows 0 and 2 hold the same attributes; row 3 differs from them only in its category.
  CATCH_REQUIRE(at::equal(cond.vector[0], cond.vector[2]));
  CATCH_REQUIRE(at::equal(cond.context[0], cond.context[2]));
  CATCH_REQUIRE_FALSE(at::allclose(cond.vector[0], cond.vector[3]));
  CATCH_REQUIRE_FALSE(at::allclose(cond.vector[0], cond.vector[1]));

  const auto p = scheme->named_parameters();
  const auto numeric = linear(p, "attribute0", input.attributes.select(1, 0).unsqueeze(1));
  const auto category = whatif_test::named(p, "attribute1.weight")
                            .index_select(0, input.attributes.select(1, 1).to(at::kLong));
  const auto h = at::silu(numeric + category);
  CATCH_REQUIRE(at::allclose(cond.vector, linear(p, "vector_out", h), 1e-5, 1e-6));
  CATCH_REQUIRE(at::allclose(cond.context.squeeze(1), linear(p, "context_out", h), 1e-5, 1e-6));

  const auto dropped = scheme->drop(cond, torch::tensor({false, false, true, false}));
  const auto null = scheme->null(4);
  CATCH_REQUIRE(at::equal(dropped.vector[2], null.vector[2]));
  CATCH_REQUIRE(at::equal(dropped.context[2], null.context[2]));
  CATCH_REQUIRE(at::equal(dropped.vector[3], cond.vector[3]));

  input.attributes = torch::tensor({0.5, 3.0}).view({1, 2});
  CATCH_REQUIRE_THROWS_WITH(scheme->encode(input), Catch::Contains("integers in [0, 2]"));
  input.attributes = torch::zeros({1, 3});
  CATCH_REQUIRE_THROWS_WITH(scheme->encode(input), Catch::Contains("lists 2 columns"));
}

CATCH_TEST_CASE("conditioning/attributes: numeric columns are divided by their scales") {
  Plugins plugins;
  torch::manual_seed(7);
  const auto scheme = plugins.make("attributes", with({{"categories", std::vector<std::int64_t>{0, 2}},
                                                       {"scales", std::vector<double>{250.0, 1.0}},
                                                       {"width", std::int64_t{8}},
                                                       {"vector_dim", std::int64_t{4}},
                                                       {"context_dim", std::int64_t{0}}}));
  whatif::CondInput input;
  input.attributes = torch::tensor({100.0, 1.0, 500.0, 0.0}).view({2, 2});
  const auto cond = scheme->encode(input);
  const auto p = scheme->named_parameters();
  const auto numeric = linear(p, "attribute0", torch::tensor({0.4, 2.0}).view({2, 1}));
  const auto category = whatif_test::named(p, "attribute1.weight").index_select(0, torch::tensor({1, 0}));
  CATCH_REQUIRE(at::allclose(cond.vector, linear(p, "vector_out", at::silu(numeric + category)), 1e-5, 1e-6));
  CATCH_REQUIRE_THROWS_WITH(plugins.make("attributes", with({{"categories", std::vector<std::int64_t>{0, 2}},
                                                             {"scales", std::vector<double>{250.0}}})),
                            Catch::Contains("one per column"));
  CATCH_REQUIRE_THROWS_WITH(plugins.make("attributes", with({{"categories", std::vector<std::int64_t>{0}},
                                                             {"scales", std::vector<double>{0.0}}})),
                            Catch::Contains("positive number"));
}

CATCH_TEST_CASE("conditioning: gradients reach every parameter and a tiny fit succeeds") {
  Plugins plugins;
  torch::manual_seed(6);
  const auto text = whatif_test::make_transformer(plugins.registry, 16);
  text->fit_tokenizer(whatif_test::report_corpus(), "");
  const auto context = plugins.make("cross-attention", with({{"context_dim", std::int64_t{8}}}));
  const auto film = plugins.make("film", with({{"vector_dim", std::int64_t{8}}}));
  context->attach_text(text);
  film->attach_text(text);
  std::vector<at::Tensor> parameters;
  std::vector<std::pair<std::string, at::Tensor>> all;
  for (const auto& part : std::vector<whatif::Trainable*>{text.get(), context.get(), film.get()})
    for (const auto& [name, tensor] : part->named_parameters()) {
      parameters.push_back(tensor);
      all.emplace_back(name, tensor);
    }
  // Four reports, the last one dropped to the null condition, each regressed onto its own target.
  const whatif::CondInput input{
      {kTexts[0], kTexts[1], kTexts[2], "Overall minimal lesion load."}, {}, {}};
  const auto drop = torch::tensor({false, false, false, true});
  const auto vector_target = torch::randn({4, 8});
  const auto context_target = torch::randn({4, 8});
  const auto loss_fn = [&]() {
    const auto v = film->drop(film->encode(input), drop).vector;
    const auto c = context->drop(context->encode(input), drop);
    const auto real = c.context_mask.unsqueeze(-1).to(at::kFloat);
    const auto pooled_context = (c.context * real).sum(1) / real.sum(1);
    return (v - vector_target).square().mean() + (pooled_context - context_target).square().mean();
  };
  loss_fn().backward();
  for (const auto& [name, tensor] : all) {
    CATCH_INFO(name);
    CATCH_REQUIRE(tensor.grad().defined());
    CATCH_REQUIRE(tensor.grad().abs().sum().item<double>() > 0);
  }
  torch::optim::Adam optimizer(parameters, torch::optim::AdamOptions(1e-2));
  const double initial = loss_fn().item<double>();
  for (int step = 0; step < 150; ++step) {
    optimizer.zero_grad();
    const auto loss = loss_fn();
    loss.backward();
    optimizer.step();
  }
  CATCH_REQUIRE(loss_fn().item<double>() < 0.05 * initial);
}

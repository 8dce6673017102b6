// metric/interpretation through the registry, on texts whose scores are worked out by hand (the
// sentence-level values are those of tests/core/data/test_text_metrics.cpp).
#include <catch2/catch.hpp>

#include <cmath>

#include "support/plugins.hpp"
#include "whatif/metric.hpp"

using whatif::test::make;

namespace {

whatif::MetricItem texts(std::vector<std::string> generated, std::vector<std::string> references) {
  whatif::MetricItem item;
  item.texts = std::move(generated);
  item.reference_texts = std::move(references);
  return item;
}

}  // namespace

CATCH_TEST_CASE("metric/interpretation: BLEU-4, ROUGE-L and findings F1 of hand-checked texts") {
  whatif::test::load("metrics");
  const auto metric = make<whatif::Metric>("metric", "interpretation");

  // Identical texts score 1 everywhere.
  const std::string truth = "The right pleural effusion has increased. New left lower lobe consolidation, about 80 ml.";
  metric->update(texts({truth}, {truth}));
  auto m = metric->compute();
  CATCH_CHECK(m["interpretation_bleu4"] == Approx(1.0));
  CATCH_CHECK(m["interpretation_rouge_l"] == Approx(1.0));
  CATCH_CHECK(m["finding_f1"] == 1.0);
  CATCH_CHECK(m["unparsed_fraction"] == 0.0);

  // One word differs: smoothed BLEU (5/12)^¼, ROUGE-L 5/6 (test_text_metrics' case 1). The finding
  // has the wrong direction: one false positive and one false negative, so P = R = F1 = 0.
  metric->reset();
  metric->update(texts({"The right pleural effusion has increased"}, {"the right pleural effusion has decreased"}));
  m = metric->compute();
  CATCH_CHECK(m["interpretation_bleu4"] == Approx(std::pow(5.0 / 12, 0.25)).epsilon(1e-12));
  CATCH_CHECK(m["interpretation_rouge_l"] == Approx(5.0 / 6).epsilon(1e-12));
  CATCH_CHECK(m["finding_precision"] == 0.0);
  CATCH_CHECK(m["finding_recall"] == 0.0);

  // Micro-averaged findings over two updates: text 1 says 2 findings, 1 right (of 2 true);
  // text 2 says 1 right finding of 1 true and one sentence the grammar does not know.
  //   TP 2, predicted 3, expected 3 → P = R = F1 = 2/3; unparsed 1 of 4 sentences.
  metric->reset();
  metric->update(texts({"The right pleural effusion has decreased. New left lower lobe consolidation, about 80 ml."},
                       {"The right pleural effusion has increased. New left lower lobe consolidation, about 80 ml."}));
  metric->update(texts({"The cardiomegaly is unchanged. The weather is fine."}, {"Stable cardiomegaly."}));
  m = metric->compute();
  CATCH_CHECK(m["finding_precision"] == Approx(2.0 / 3));
  CATCH_CHECK(m["finding_recall"] == Approx(2.0 / 3));
  CATCH_CHECK(m["finding_f1"] == Approx(2.0 / 3));
  CATCH_CHECK(m["unparsed_fraction"] == Approx(1.0 / 4));
  CATCH_CHECK(m["texts"] == 2.0);

  // One reference per text, and something to score.
  CATCH_CHECK_THROWS_WITH(metric->update(texts({"a", "b"}, {"a"})), Catch::Contains("one reference per text"));
  metric->reset();
  CATCH_CHECK_THROWS_WITH(metric->compute(), Catch::Contains("no texts"));
}

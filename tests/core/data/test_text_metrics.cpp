// Text metrics: BLEU and ROUGE-L against values worked out by hand below (no second BLEU
// implementation is installed here), and the findings parser against every sentence of the report
// grammars, one by one and on texts drawn from the generators with their ground truth.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <random>

#include "data/brain_reports.hpp"
#include "data/chest_reports.hpp"
#include "whatif/data/text_metrics.hpp"
#include "whatif/registry/error.hpp"

using whatif::data::Finding;

namespace whatif::data {
// How Catch prints a finding in a failed comparison.
std::ostream& operator<<(std::ostream& out, const Finding& f) { return out << "{" << f.name << ": " << f.state << "}"; }
}  // namespace whatif::data

namespace {

std::vector<Finding> sorted(std::vector<Finding> f) {
  std::sort(f.begin(), f.end());
  return f;
}

std::string show(const std::vector<Finding>& findings) {
  std::string s;
  for (const auto& f : findings) s += "{" + f.name + ": " + f.state + "} ";
  return s;
}

}  // namespace

CATCH_TEST_CASE("text tokens: lower-cased words, numbers kept whole, punctuation apart") {
  CATCH_REQUIRE(whatif::data::text_tokens("Volume 1.25 mL (+12 %).") ==
                std::vector<std::string>{"volume", "1.25", "ml", "(", "+12", "%", ")", "."});
  CATCH_REQUIRE(whatif::data::text_tokens("T1-hypointense, below -950 HU; CTR 0.56, now") ==
                std::vector<std::string>{"t1-hypointense", ",", "below", "-950", "hu", ";", "ctr", "0.56", ",", "now"});
  CATCH_REQUIRE(whatif::data::text_tokens("  ").empty());
}

CATCH_TEST_CASE("BLEU-4 and ROUGE-L equal their hand-computed values") {
  using whatif::data::bleu;
  using whatif::data::rouge_l;
  // (1) one word differs at the end; 6 tokens each, so BP = 1.
  //   matches: 1-grams 5/6, 2-grams 4/5, 3-grams 3/4, 4-grams 2/3 → product 1/3, BLEU = (1/3)^¼.
  //   smoothed (add one from n = 2): 5/6 · 5/6 · 4/5 · 3/4 = 5/12, BLEU = (5/12)^¼.
  //   LCS 5 of 6 and 6: P = R = F = 5/6.
  const std::string c1 = "The right pleural effusion has increased", r1 = "the right pleural effusion has decreased";
  CATCH_REQUIRE(bleu(c1, r1, false) == Approx(std::pow(1.0 / 3, 0.25)).epsilon(1e-12));
  CATCH_REQUIRE(bleu(c1, r1, true) == Approx(std::pow(5.0 / 12, 0.25)).epsilon(1e-12));
  CATCH_REQUIRE(rouge_l(c1, r1).f == Approx(5.0 / 6).epsilon(1e-12));

  // (2) clipping and the brevity penalty: "the the effusion" (3 tokens) against 6 tokens.
  //   1-grams: "the" ×2 clipped to the reference's one, + "effusion" = 2/3; 2-grams 0/2 → unsmoothed 0.
  //   smoothed: 2/3 · (0+1)/(2+1) · (0+1)/(1+1) · (0+1)/(0+1) = 1/9; BP = exp(1 − 6/3) = e⁻¹;
  //   BLEU = (1/9)^¼ · e⁻¹ = e⁻¹ / √3.
  //   LCS "the effusion" = 2: P = 2/3, R = 2/6, F = 2·(2/9)/(1) = 4/9.
  const std::string c2 = "the the effusion", r2 = "the right pleural effusion is unchanged";
  CATCH_REQUIRE(bleu(c2, r2, false) == 0.0);
  CATCH_REQUIRE(bleu(c2, r2, true) == Approx(std::exp(-1.0) / std::sqrt(3.0)).epsilon(1e-12));
  const auto rouge2 = rouge_l(c2, r2);
  CATCH_REQUIRE(rouge2.precision == Approx(2.0 / 3));
  CATCH_REQUIRE(rouge2.recall == Approx(1.0 / 3));
  CATCH_REQUIRE(rouge2.f == Approx(4.0 / 9).epsilon(1e-12));

  // (3) reordered words, 7 tokens each: 1-grams 6/7 ("in" unmatched), 2-grams 3/6 (the left, left
  //   upper, upper lobe), 3-grams 2/5, 4-grams 1/4 → (6/7 · 1/2 · 2/5 · 1/4)^¼ = (3/70)^¼.
  //   LCS "the left upper lobe" = 4: F = 4/7.
  const std::string c3 = "New nodule in the left upper lobe", r3 = "the left upper lobe nodule is new";
  CATCH_REQUIRE(bleu(c3, r3, false) == Approx(std::pow(3.0 / 70, 0.25)).epsilon(1e-12));
  CATCH_REQUIRE(rouge_l(c3, r3).f == Approx(4.0 / 7).epsilon(1e-12));

  // Corpus BLEU pools the counts before the ratios: (1) and (3) together give
  //   (11/13 · 7/11 · 5/9 · 3/7)^¼ = (5/39)^¼, not the mean of the two sentence scores.
  CATCH_REQUIRE(bleu({c1, c3}, {r1, r3}, false) == Approx(std::pow(5.0 / 39, 0.25)).epsilon(1e-12));
  CATCH_REQUIRE(rouge_l({c1, c3}, {r1, r3}) == Approx((5.0 / 6 + 4.0 / 7) / 2).epsilon(1e-12));

  // Identity scores 1; nothing in common scores 0.
  CATCH_REQUIRE(bleu(r3, r3, false) == Approx(1.0));
  CATCH_REQUIRE(rouge_l(r3, r3).f == Approx(1.0));
  CATCH_REQUIRE(bleu("stable emphysema", "new nodule", true) == 0.0);
  CATCH_REQUIRE(rouge_l("stable emphysema", "new nodule").f == 0.0);
  CATCH_REQUIRE_THROWS_WITH(bleu(std::vector<std::string>{"a"}, std::vector<std::string>{}, true),
                            Catch::Contains("one reference per candidate"));
}

CATCH_TEST_CASE("every sentence of the grammars parses to its finding and direction") {
  const std::vector<std::pair<std::string, Finding>> table = {
      // chest_interpretation: the change sentences, one per wording.
      {"New right pleural effusion, about 120 ml.", {"right pleural effusion", "new"}},
      {"A new left upper lobe nodule (8 mm) has appeared.", {"left upper lobe nodule", "new"}},
      {"The right lower lobe consolidation has resolved (previously about 200 ml).",
       {"right lower lobe consolidation", "resolved"}},
      {"The previous left pleural effusion (about 60 ml) is no longer seen.", {"left pleural effusion", "resolved"}},
      {"The cardiomegaly has increased, from cardiothoracic ratio 0.53 to cardiothoracic ratio 0.58.",
       {"cardiomegaly", "increased"}},
      {"The emphysema is larger: 8 % of the lung below -950 HU then, 12 % of the lung below -950 HU now.",
       {"emphysema", "increased"}},
      {"The right middle lobe nodule has decreased, from 9 mm to 6 mm.", {"right middle lobe nodule", "decreased"}},
      {"The left lower lobe consolidation is smaller: about 300 ml then, about 150 ml now.",
       {"left lower lobe consolidation", "decreased"}},
      {"The right upper lobe nodule is unchanged (7 mm).", {"right upper lobe nodule", "unchanged"}},
      {"Stable right pleural effusion, about 340 ml.", {"right pleural effusion", "unchanged"}},
      // ms_report
      {"Overall, the white matter lesion load is high.", {"lesion load", "high"}},
      {"Impression: moderate lesion load.", {"lesion load", "moderate"}},
      {"Findings are consistent with a minimal lesion load.", {"lesion load", "minimal"}},
      {"The burden of demyelinating lesions is high.", {"lesion load", "high"}},
      {"No T1-hypointense white matter lesions are seen.", {"white matter lesions", "absent"}},
      {"There are no focal white matter lesions.", {"white matter lesions", "absent"}},
      {"No lesions are identified in the white matter.", {"white matter lesions", "absent"}},
      {"12 T1-hypointense lesions in the white matter, total volume 3.41 mL.", {"white matter lesions", "present"}},
      {"There is 1 hypointense white matter lesion (0.12 mL in total).", {"white matter lesions", "present"}},
      {"Lesion volume 0.52 mL across 3 foci.", {"white matter lesions", "present"}},
      {"We count 4 lesions with a combined volume of 1.10 mL.", {"white matter lesions", "present"}},
      {"The lesions are predominantly periventricular.", {"lesion distribution", "periventricular"}},
      {"Most foci lie adjacent to the lateral ventricles.", {"lesion distribution", "periventricular"}},
      {"The distribution is mainly periventricular.", {"lesion distribution", "periventricular"}},
      {"The lesions are scattered in the deep white matter.", {"lesion distribution", "deep"}},
      {"Most foci lie away from the ventricles, in the deep white matter.", {"lesion distribution", "deep"}},
      // ad_report
      {"Clinical picture: cognitively normal.", {"cognition", "normal"}},
      {"Findings are in keeping with mild cognitive impairment.", {"cognition", "mild cognitive impairment"}},
      {"Impression: dementia.", {"cognition", "dementia"}},
      {"The imaging fits dementia.", {"cognition", "dementia"}},
      {"No hippocampal atrophy; hippocampal volume 7.9 mL.", {"hippocampal atrophy", "none"}},
      {"The hippocampi are preserved (7.9 mL combined).", {"hippocampal atrophy", "none"}},
      {"There is slight hippocampal atrophy, volume 7.1 mL (10 % below baseline).", {"hippocampal atrophy", "mild"}},
      {"Hippocampal volume is 5.5 mL, a 30 % loss, i.e. pronounced atrophy.", {"hippocampal atrophy", "marked"}},
      {"The hippocampi show severe volume loss (5.5 mL).", {"hippocampal atrophy", "marked"}},
      {"Ventricular volume 21.0 mL, without enlargement.", {"ventricular enlargement", "absent"}},
      {"The ventricles measure 21.0 mL and are not enlarged.", {"ventricular enlargement", "absent"}},
      {"The ventricles are enlarged to 30.5 mL (+45 %).", {"ventricular enlargement", "present"}},
      {"Ventricular volume 30.5 mL, 45 % above baseline.", {"ventricular enlargement", "present"}},
      {"Ex vacuo ventricular enlargement to 30.5 mL.", {"ventricular enlargement", "present"}},
  };
  for (const auto& [sentence, expected] : table) {
    CATCH_INFO(sentence);
    const auto parsed = whatif::data::parse_findings(sentence);
    CATCH_REQUIRE(parsed.unparsed.empty());
    CATCH_REQUIRE(parsed.findings.size() == 1);
    CATCH_REQUIRE(parsed.findings[0].name == expected.name);
    CATCH_REQUIRE(parsed.findings[0].state == expected.state);
  }
  // An interpretation: the leading clause is dropped, sentences split at capitals and digits but
  // not inside "0.53" or "i.e."; the no-change summaries state no finding; unknown text is reported.
  const auto text = whatif::data::parse_findings(
      "Interval change over 6 months: The right pleural effusion has increased, from about 100 ml to "
      "about 250 ml. New left lower lobe consolidation, about 80 ml. The weather is fine.");
  CATCH_REQUIRE(text.findings == std::vector<Finding>{{"right pleural effusion", "increased"},
                                                      {"left lower lobe consolidation", "new"}});
  CATCH_REQUIRE(text.unparsed == std::vector<std::string>{"The weather is fine."});
  for (const char* none : {"No interval change over 12 months; no acute cardiopulmonary abnormality.",
                           "Compared with the baseline 12 months earlier: no abnormality then or now."}) {
    const auto parsed = whatif::data::parse_findings(none);
    CATCH_REQUIRE(parsed.findings.empty());
    CATCH_REQUIRE(parsed.unparsed.empty());
  }
  // A measure without a change is not an interpretation.
  CATCH_REQUIRE(whatif::data::parse_findings("Right pleural effusion, about 340 ml.").unparsed.size() == 1);
}

CATCH_TEST_CASE("texts drawn from the generators parse to the ground truth they were written from") {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  // Chest pairs: each finding absent, present at one time or both, with sizes that cross the
  // grammar's unchanged thresholds.
  auto maybe = [&](double p, double lo, double hi) { return u(rng) < p ? lo + (hi - lo) * u(rng) : 0.0; };
  std::int64_t findings_seen = 0, empty_changes = 0;
  for (int trial = 0; trial < 400; ++trial) {
    whatif::data::ChestFindings before, after;
    after.time = 1;
    after.months = 6;
    for (std::size_t s = 0; s < 2; ++s) {
      before.effusion_ml[s] = maybe(0.4, 20, 400);
      after.effusion_ml[s] = u(rng) < 0.3 ? before.effusion_ml[s] * (1 + 0.15 * (u(rng) - 0.5)) : maybe(0.5, 20, 400);
    }
    for (int id = 1; id <= 3; ++id) {
      const int lobe = 1 + static_cast<int>(rng() % 5);
      const double a = maybe(0.3, 3, 15), b = u(rng) < 0.3 && a > 0 ? a + 1.5 * (u(rng) - 0.5) : maybe(0.3, 3, 15);
      if (a > 0) before.nodules.push_back({id, lobe, {}, a});
      if (b > 0) after.nodules.push_back({id, lobe, {}, b});
    }
    before.consolidation_lobe = after.consolidation_lobe = 1 + static_cast<int>(rng() % 5);
    before.consolidation_ml = maybe(0.3, 30, 500);
    after.consolidation_ml = maybe(0.3, 30, 500);
    before.ctr = 0.42 + 0.16 * u(rng);
    after.ctr = u(rng) < 0.3 ? before.ctr + 0.03 * (u(rng) - 0.5) : 0.42 + 0.16 * u(rng);
    before.emphysema_percent = maybe(0.3, 2, 30);
    after.emphysema_percent = u(rng) < 0.3 ? before.emphysema_percent * 1.05 : maybe(0.3, 2, 30);

    if (trial % 40 == 0) {  // nothing then or now: the "no interval change" summaries
      before = whatif::data::ChestFindings{};
      before.ctr = 0.45;
      after = before;
      after.months = 6;
    }
    const std::string text = whatif::data::chest_interpretation(before, after, rng);
    const auto truth = whatif::data::chest_change_findings(before, after);
    const auto parsed = whatif::data::parse_findings(text);
    CATCH_INFO(text << "\nexpected " << show(sorted(truth)) << "\nparsed " << show(sorted(parsed.findings)));
    CATCH_REQUIRE(parsed.unparsed.empty());
    CATCH_REQUIRE(sorted(parsed.findings) == sorted(truth));
    CATCH_REQUIRE(whatif::data::score_findings(parsed.findings, truth).f1 == 1.0);
    findings_seen += static_cast<std::int64_t>(truth.size());
    empty_changes += truth.empty();
  }
  CATCH_REQUIRE(findings_seen > 1000);
  CATCH_REQUIRE(empty_changes > 0);

  for (int trial = 0; trial < 200; ++trial) {
    whatif::data::MsFindings ms;
    ms.level = static_cast<int>(rng() % 3);
    ms.lesion_count = static_cast<int>(rng() % 4) * static_cast<int>(1 + rng() % 6);
    ms.lesion_volume_ml = 0.1 * ms.lesion_count;
    ms.periventricular_fraction = u(rng);
    const std::string report = whatif::data::ms_report(ms, rng);
    const auto parsed = whatif::data::parse_findings(report);
    CATCH_INFO(report);
    CATCH_REQUIRE(parsed.unparsed.empty());
    CATCH_REQUIRE(sorted(parsed.findings) ==
                  sorted(whatif::data::ms_report_findings(ms.level, ms.lesion_count, ms.periventricular_fraction)));

    whatif::data::AdFindings ad;
    ad.level = static_cast<int>(rng() % 3);
    ad.hippocampus_ml = 8.0 - ad.level;
    ad.ventricle_ml = 20.0 + 10 * ad.level;
    ad.hippocampus_change = -0.1 * ad.level;
    ad.ventricle_change = 0.3 * ad.level;
    const std::string ad_text = whatif::data::ad_report(ad, rng);
    const auto ad_parsed = whatif::data::parse_findings(ad_text);
    CATCH_INFO(ad_text);
    CATCH_REQUIRE(ad_parsed.unparsed.empty());
    CATCH_REQUIRE(sorted(ad_parsed.findings) == sorted(whatif::data::ad_report_findings(ad.level)));
  }
}

CATCH_TEST_CASE("finding precision, recall and F1 count (name, state) pairs as multisets") {
  using whatif::data::score_findings;
  // One right, one with the wrong direction (a false positive and a false negative), one invented,
  // one missed: TP 1 of 3 predicted and 3 expected.
  const std::vector<Finding> predicted{{"cardiomegaly", "new"}, {"emphysema", "increased"}, {"left pleural effusion", "new"}};
  const std::vector<Finding> expected{{"cardiomegaly", "new"}, {"emphysema", "decreased"}, {"right upper lobe nodule", "new"}};
  const auto s = score_findings(predicted, expected);
  CATCH_REQUIRE(s.true_positives == 1);
  CATCH_REQUIRE(s.precision == Approx(1.0 / 3));
  CATCH_REQUIRE(s.recall == Approx(1.0 / 3));
  CATCH_REQUIRE(s.f1 == Approx(1.0 / 3));
  // A finding said twice is matched once: P = 1/2, R = 1, F1 = 2/3.
  const auto twice = score_findings(std::vector<Finding>{{"emphysema", "new"}, {"emphysema", "new"}},
                                    std::vector<Finding>{{"emphysema", "new"}});
  CATCH_REQUIRE(twice.precision == Approx(0.5));
  CATCH_REQUIRE(twice.recall == Approx(1.0));
  CATCH_REQUIRE(twice.f1 == Approx(2.0 / 3));
  // "No change" said when there was none is right; said when there was a change scores 0.
  CATCH_REQUIRE(score_findings(std::vector<Finding>{}, std::vector<Finding>{}).f1 == 1.0);
  CATCH_REQUIRE(score_findings(std::vector<Finding>{}, expected).f1 == 0.0);
  // Micro-average: TP 1 + 1, predicted 3 + 2, expected 3 + 1 → P 2/5, R 2/4, F1 = 2·0.2/0.9 = 4/9.
  const auto micro = score_findings(std::vector<std::vector<Finding>>{predicted, {{"emphysema", "new"}, {"emphysema", "new"}}},
                                    std::vector<std::vector<Finding>>{expected, {{"emphysema", "new"}}});
  CATCH_REQUIRE(micro.precision == Approx(0.4));
  CATCH_REQUIRE(micro.recall == Approx(0.5));
  CATCH_REQUIRE(micro.f1 == Approx(4.0 / 9));
}

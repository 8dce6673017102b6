#pragma once
// Text metrics for generated interpretations (DESIGN §8, "Text"): BLEU-4 and ROUGE-L against a
// reference text, and finding-level precision / recall / F1 against the ground-truth structured
// change, read from the sentence by a parser of the benchmarks' known report grammars
// (core/src/data/brain_reports.cpp and chest_reports.cpp; the grammar is listed in docs/autoregression.md).
// Pure functions of strings: no model, no randomness.
#include <cstdint>
#include <string>
#include <vector>

#include "whatif/data/synthetic_chest.hpp"

namespace whatif::data {

// Lower-cased words, numbers and punctuation marks: "Volume 1.25 mL (+12 %)." →
// {"volume", "1.25", "ml", "(", "+12", "%", ")", "."}. A '.' or ',' between digits stays in the number.
std::vector<std::string> text_tokens(const std::string& text);

// BLEU (Papineni et al. 2002) of candidates against one reference each, over text_tokens:
// exp(Σ_n ¼ log p_n) · BP for n = 1..4, with p_n the clipped n-gram matches over the candidate
// n-grams, both pooled over the corpus, and BP = min(1, exp(1 − r / c)) from the summed lengths.
// `smooth`: add one to the matches and the count of every order n ≥ 2 (Lin & Och 2004; method 2 of
// Chen & Cherry 2014), so a single sentence without a matching 4-gram does not score 0. Unsmoothed,
// any order without a match gives 0.
double bleu(const std::vector<std::string>& candidates, const std::vector<std::string>& references,
            bool smooth = true);
double bleu(const std::string& candidate, const std::string& reference, bool smooth = true);

// ROUGE-L (Lin 2004) over text_tokens: L = length of the longest common subsequence, R = L / |ref|,
// P = L / |cand|, F = 2PR / (P + R) (β = 1), 0 when L = 0.
struct Rouge {
  double precision = 0, recall = 0, f = 0;
};
Rouge rouge_l(const std::string& candidate, const std::string& reference);
// The mean of the pairs' F-measures.
double rouge_l(const std::vector<std::string>& candidates, const std::vector<std::string>& references);

// One finding of a text: a canonical name and its state. Names and states:
//   chest interpretations: "right pleural effusion", "left pleural effusion", "<lobe> nodule",
//     "<lobe> consolidation", "cardiomegaly", "emphysema"; state "new", "resolved", "increased",
//     "decreased" or "unchanged".
//   MS reports: "lesion load" minimal | moderate | high; "white matter lesions" absent | present;
//     "lesion distribution" periventricular | deep.
//   AD reports: "cognition" normal | mild cognitive impairment | dementia; "hippocampal atrophy"
//     none | mild | marked; "ventricular enlargement" absent | present.
struct Finding {
  std::string name, state;
  bool operator==(const Finding& o) const { return name == o.name && state == o.state; }
  bool operator<(const Finding& o) const { return name < o.name || (name == o.name && state < o.state); }
};

struct ParsedText {
  std::vector<Finding> findings;        // in the text's order
  std::vector<std::string> unparsed;    // sentences the grammar does not know
};

// Splits `text` into sentences and maps each sentence of the grammars to its finding. Sentences
// that state no finding (a "no interval change" summary) add none; unknown ones go to `unparsed`.
ParsedText parse_findings(const std::string& text);

// The ground truth the generators wrote their texts from.
// chest_interpretation(before, after): one finding per side with an effusion, per nodule id, for a
// consolidation, cardiomegaly and emphysema present at either time, with the change rule of the
// grammar (relative changes under 10 % — nodules under 1 mm, the CTR under 0.02 — are unchanged).
std::vector<Finding> chest_change_findings(const ChestFindings& before, const ChestFindings& after);
// ms_report: level 0..2 (minimal, moderate, high); the distribution only when there are lesions.
std::vector<Finding> ms_report_findings(int level, std::int64_t lesion_count, double periventricular_fraction);
// ad_report: level 0..2 (normal, MCI, dementia).
std::vector<Finding> ad_report_findings(int level);

// Precision, recall and F1 of predicted findings against expected ones, matched as multisets of
// (name, state) pairs: a finding with the right name and the wrong state counts as one false
// positive and one false negative. With nothing predicted P = 1, with nothing expected R = 1 (so two
// empty sets score 1); F1 = 2PR / (P + R), 0 when both are 0.
struct FindingScore {
  double precision = 1, recall = 1, f1 = 1;
  std::int64_t true_positives = 0, predicted = 0, expected = 0;
};
FindingScore score_findings(const std::vector<Finding>& predicted, const std::vector<Finding>& expected);
// Micro-average over examples: true positives, predicted and expected counts summed first.
FindingScore score_findings(const std::vector<std::vector<Finding>>& predicted,
                            const std::vector<std::vector<Finding>>& expected);

}  // namespace whatif::data

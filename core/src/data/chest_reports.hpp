#pragma once
// Text for the synthetic chest, generated from its findings tables by the grammar in
// docs/data.md: synonyms, sentence order and negations vary with the random stream, the facts do
// not. The same (findings, stream) always gives the same text.
#include <random>
#include <string>

#include "whatif/data/synthetic_chest.hpp"

namespace whatif::data {

// "Findings: ... Impression: ...": every finding of the table with its measure, and a negation
// for each absent category.
std::string chest_report(const ChestFindings& findings, std::mt19937_64& rng);
// The impression alone, fixed wording: "right pleural effusion; 2 pulmonary nodules" or
// "no acute cardiopulmonary abnormality".
std::string chest_impression(const ChestFindings& findings);
// What changed from `before` to `after`: one sentence per finding present in either, with the
// old and new measures; relative changes under 10 % (nodules: under 1 mm) read as unchanged.
std::string chest_interpretation(const ChestFindings& before, const ChestFindings& after, std::mt19937_64& rng);
// The change in a few words, as a progression prompt asks for it: every finding whose state is not
// `unchanged` (text_metrics' chest_change_findings), "<state> <finding>", joined by ", " —
// "increased right pleural effusion, new right upper lobe nodule" — or "no interval change".
std::string chest_change_prompt(const ChestFindings& before, const ChestFindings& after);

// The numbers as the texts print them.
std::string approx_ml(double ml);       // "about 340 ml" (10 ml steps from 50 ml, else 1 ml)
std::string nodule_mm(double diameter);  // "8 mm"
std::string ctr_text(double ctr);        // "0.56"
std::string percent_text(double percent);  // "12 %"

}  // namespace whatif::data

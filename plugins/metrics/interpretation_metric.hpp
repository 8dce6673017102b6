#pragma once
// metric `interpretation`: how well generated texts (an autoregressive model's interpretations)
// say what changed, against their ground-truth texts. Scored by whatif::data's text metrics over
// every text since the last reset: corpus BLEU-4 (smoothed), mean ROUGE-L F, and the findings
// the sentence parser reads from each text, precision / recall / F1 micro-averaged (the ground
// truth's findings are parsed from the reference text, which for the synthetic benchmarks'
// generated texts gives exactly their structured change; docs/autoregression.md).
#include <string>
#include <vector>

#include <whatif/metric.hpp>

namespace whatif_metrics {

class InterpretationMetric : public whatif::Metric {
 public:
  void reset() override;
  // item.texts and item.reference_texts: one reference per text.
  void update(const whatif::MetricItem& item) override;
  // {interpretation_bleu4, interpretation_rouge_l, finding_precision, finding_recall, finding_f1,
  //  unparsed_fraction (sentences of the generated texts the parser did not know), texts}
  std::map<std::string, double> compute() override;

 private:
  std::vector<std::string> texts_, references_;
};

}  // namespace whatif_metrics

#include "interpretation_metric.hpp"

#include <whatif/data/text_metrics.hpp>
#include <whatif/registry/error.hpp>

namespace whatif_metrics {

namespace data = whatif::data;

void InterpretationMetric::reset() {
  texts_.clear();
  references_.clear();
}

void InterpretationMetric::update(const whatif::MetricItem& item) {
  if (item.texts.size() != item.reference_texts.size())
    throw whatif::Error("metric/interpretation: " + std::to_string(item.texts.size()) + " texts but " +
                        std::to_string(item.reference_texts.size()) + " reference_texts; give one reference per text");
  texts_.insert(texts_.end(), item.texts.begin(), item.texts.end());
  references_.insert(references_.end(), item.reference_texts.begin(), item.reference_texts.end());
}

std::map<std::string, double> InterpretationMetric::compute() {
  if (texts_.empty()) throw whatif::Error("metric/interpretation: no texts; call update{texts =, reference_texts =} first");
  std::vector<std::vector<data::Finding>> predicted, expected;
  std::size_t sentences = 0, unparsed = 0;
  for (std::size_t i = 0; i < texts_.size(); ++i) {
    const data::ParsedText generated = data::parse_findings(texts_[i]);
    predicted.push_back(generated.findings);
    expected.push_back(data::parse_findings(references_[i]).findings);
    sentences += generated.findings.size() + generated.unparsed.size();
    unparsed += generated.unparsed.size();
  }
  const data::FindingScore score = data::score_findings(predicted, expected);
  return {{"interpretation_bleu4", data::bleu(texts_, references_)},
          {"interpretation_rouge_l", data::rouge_l(texts_, references_)},
          {"finding_precision", score.precision},
          {"finding_recall", score.recall},
          {"finding_f1", score.f1},
          {"unparsed_fraction", sentences ? static_cast<double>(unparsed) / static_cast<double>(sentences) : 0.0},
          {"texts", static_cast<double>(texts_.size())}};
}

}  // namespace whatif_metrics

#pragma once
// kind `metric`: accumulates items, then computes named values.
#include <map>
#include <string>

#include "whatif/dataset.hpp"
#include "whatif/registry/component.hpp"
#include "whatif/tensor.hpp"

namespace whatif {

struct MetricItem {
  at::Tensor generated;  // [B, C, (D,) H, W]
  at::Tensor reference;  // real image or ground-truth twin, when the metric compares
  at::Tensor source;     // the counterfactual's source, when there is one
  std::vector<std::string> prompts;
  std::vector<std::string> texts;            // generated texts (an interpretation per example)
  std::vector<std::string> reference_texts;  // their ground truth, one per text
  std::map<std::string, at::Tensor> attributes;  // requested attributes, [B] each
};

class Metric : public Component {
 public:
  ~Metric() override;

  // Metrics that learn from real data (the text-alignment classifier, fid's classifier features)
  // or calibrate on it (effectiveness) do so here, once, before their updates, and return what
  // they measured on real data (a held-out accuracy, the measure's error on real twins). The
  // randomness of training comes from `seed`. The others have nothing to learn and return {}.
  virtual std::map<std::string, double> fit(const Dataset& data, std::uint64_t seed) { return {}; }
  virtual void reset() = 0;
  virtual void update(const MetricItem& item) = 0;
  virtual std::map<std::string, double> compute() = 0;
};

}  // namespace whatif

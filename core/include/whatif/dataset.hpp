#pragma once
// kind `dataset`: indexed examples with image, text, attributes, masks, subject and twins.
#include <array>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "whatif/registry/component.hpp"
#include "whatif/tensor.hpp"

namespace whatif {

struct Example {
  at::Tensor image;  // [C, (D,) H, W] float32
  at::Tensor mask;   // same spatial size, or undefined
  std::string text;
  std::map<std::string, double> attributes;
  std::string subject;
  std::array<double, 3> spacing{1.0, 1.0, 1.0};  // mm, (x, y, z)
  std::array<double, 3> origin{0.0, 0.0, 0.0};
};

class Dataset : public Component {
 public:
  ~Dataset() override;

  virtual std::int64_t size() const = 0;
  virtual Example get(std::int64_t index) const = 0;
  virtual std::vector<std::string> attribute_names() const = 0;
  // (factual, counterfactual) index pairs of the same subject with ground truth, if any.
  virtual std::vector<std::pair<std::int64_t, std::int64_t>> pairs() const { return {}; }
};

}  // namespace whatif

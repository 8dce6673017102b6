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
  // Geometry in ITK's LPS convention, axes (x, y, z) = tensor axes (W, H, D); in 2D the z entries
  // give the slice's thickness and position.
  std::array<double, 3> spacing{1.0, 1.0, 1.0};  // mm, (x, y, z)
  std::array<double, 3> origin{0.0, 0.0, 0.0};
  std::array<double, 9> direction{1, 0, 0, 0, 1, 0, 0, 0, 1};  // row-major 3×3 direction cosines
};

class Dataset : public Component {
 public:
  ~Dataset() override;

  virtual std::int64_t size() const = 0;
  // May be called from several threads at once (the data loader's workers).
  virtual Example get(std::int64_t index) const = 0;
  virtual std::vector<std::string> attribute_names() const = 0;
  // (factual, counterfactual) index pairs of the same subject with ground truth, if any.
  virtual std::vector<std::pair<std::int64_t, std::int64_t>> pairs() const { return {}; }
  // What the image intensities are in ("HU", "0..1: …"), "" when unknown. Lengths are in mm.
  virtual std::string units() const { return ""; }
};

}  // namespace whatif

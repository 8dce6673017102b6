#pragma once
// The synthetic brain benchmark, generated on access (example = subject * 3 + level).
#include <whatif/data/synthetic_brain.hpp>
#include <whatif/dataset.hpp>

namespace whatif_datasets {

class SyntheticBrainDataset : public whatif::Dataset {
 public:
  SyntheticBrainDataset(whatif::data::BrainOptions options, std::int64_t subjects, std::string text_field);
  std::int64_t size() const override;
  whatif::Example get(std::int64_t index) const override;
  std::vector<std::string> attribute_names() const override;
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs() const override;
  std::string units() const override { return brain_.units(); }

 private:
  whatif::data::SyntheticBrain brain_;
  std::int64_t subjects_;
  std::string text_field_;
};

}  // namespace whatif_datasets

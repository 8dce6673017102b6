#pragma once
// The synthetic chest benchmark, generated on access (example = subject * timepoints + time).
#include <whatif/data/synthetic_chest.hpp>
#include <whatif/dataset.hpp>

namespace whatif_datasets {

class SyntheticChestDataset : public whatif::Dataset {
 public:
  // `window` empty keeps the intensities (HU or -ln(I/I0)); {low, high} maps them linearly so that
  // low → 0 and high → 1 (no clipping, so the map inverts exactly).
  SyntheticChestDataset(whatif::data::ChestOptions options, std::int64_t subjects, std::string text_field,
                        std::vector<double> window = {});
  std::int64_t size() const override;
  whatif::Example get(std::int64_t index) const override;
  std::vector<std::string> attribute_names() const override;
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs() const override;
  std::string units() const override;

 private:
  whatif::data::SyntheticChest chest_;
  std::int64_t subjects_;
  std::string text_field_;
  std::vector<double> window_;
};

}  // namespace whatif_datasets

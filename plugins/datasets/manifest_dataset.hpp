#pragma once
// Image files listed in a CSV/JSONL manifest, read and preprocessed on access.
#include <whatif/data/manifest.hpp>
#include <whatif/data/preprocess.hpp>
#include <whatif/dataset.hpp>

namespace whatif_datasets {

class ManifestDataset : public whatif::Dataset {
 public:
  ManifestDataset(const std::string& manifest, whatif::data::PreprocessOptions preprocess);
  std::int64_t size() const override;
  whatif::Example get(std::int64_t index) const override;
  std::vector<std::string> attribute_names() const override;
  std::string units() const override { return whatif::data::intensity_units(preprocess_); }

 private:
  std::vector<whatif::data::ManifestRow> rows_;
  whatif::data::PreprocessOptions preprocess_;
};

}  // namespace whatif_datasets

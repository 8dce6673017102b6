#pragma once
// Any whatif dataset store (docs/data.md), streamed from disk.
#include <whatif/data/store.hpp>
#include <whatif/dataset.hpp>

namespace whatif_datasets {

class Hdf5Dataset : public whatif::Dataset {
 public:
  Hdf5Dataset(const std::string& path, std::string text_field);
  std::int64_t size() const override;
  whatif::Example get(std::int64_t index) const override;
  std::vector<std::string> attribute_names() const override;
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs() const override;
  std::string units() const override { return units_; }

 private:
  whatif::data::StoreReader store_;
  std::string text_field_;
  std::string units_;
};

}  // namespace whatif_datasets

#include "manifest_dataset.hpp"

#include <set>

#include <whatif/registry/error.hpp>

namespace whatif_datasets {

ManifestDataset::ManifestDataset(const std::string& manifest, whatif::data::PreprocessOptions preprocess)
    : rows_(whatif::data::read_manifest(manifest)), preprocess_(std::move(preprocess)) {}

std::int64_t ManifestDataset::size() const { return static_cast<std::int64_t>(rows_.size()); }

whatif::Example ManifestDataset::get(std::int64_t index) const {
  if (index < 0 || index >= size())
    throw whatif::Error("example " + std::to_string(index) + " is out of range (the manifest lists " +
                        std::to_string(size()) + ")");
  const auto& row = rows_[index];
  whatif::Example e;
  e.attributes = row.attributes;
  const auto volume = whatif::data::preprocess(whatif::data::read_volume(row.image), preprocess_, e.attributes);
  e.image = volume.voxels.unsqueeze(0);
  e.text = row.text;
  e.subject = row.subject;
  whatif::data::set_geometry(e, volume.geometry);
  return e;
}

std::vector<std::string> ManifestDataset::attribute_names() const {
  std::set<std::string> names;
  for (const auto& row : rows_)
    for (const auto& [name, value] : row.attributes) names.insert(name);
  return {names.begin(), names.end()};
}

}  // namespace whatif_datasets

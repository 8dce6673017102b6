#include "hdf5_dataset.hpp"

#include <whatif/registry/error.hpp>

namespace whatif_datasets {

Hdf5Dataset::Hdf5Dataset(const std::string& path, std::string text_field)
    : store_(path), text_field_(std::move(text_field)) {
  if (text_field_ != "text" && text_field_ != "prompt")
    throw whatif::Error("option 'text' must be text or prompt, got '" + text_field_ + "'");
  if (text_field_ == "prompt" && !store_.has_prompts())
    throw whatif::Error(path + ": the store has no /prompt; use text=text");
  const auto root = store_.root_attributes();
  if (root.count("units")) units_ = root.at("units");
}

std::int64_t Hdf5Dataset::size() const { return store_.size(); }

whatif::Example Hdf5Dataset::get(std::int64_t index) const { return store_.example(index, text_field_); }

std::vector<std::string> Hdf5Dataset::attribute_names() const { return store_.attribute_names(); }

std::vector<std::pair<std::int64_t, std::int64_t>> Hdf5Dataset::pairs() const { return store_.pairs(); }

}  // namespace whatif_datasets

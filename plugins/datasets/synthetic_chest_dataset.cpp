#include "synthetic_chest_dataset.hpp"

#include <sstream>

#include <whatif/registry/error.hpp>

namespace whatif_datasets {

SyntheticChestDataset::SyntheticChestDataset(whatif::data::ChestOptions options, std::int64_t subjects,
                                             std::string text_field, std::vector<double> window)
    : chest_(std::move(options)), subjects_(subjects), text_field_(std::move(text_field)), window_(std::move(window)) {
  if (subjects_ < 1) throw whatif::Error("option 'subjects' must be at least 1");
  if (!window_.empty() && (window_.size() != 2 || !(window_[1] > window_[0])))
    throw whatif::Error("option 'window' must be {} or {low, high} with high > low");
  if (text_field_ != "text" && text_field_ != "prompt" && text_field_ != "progression")
    throw whatif::Error("option 'text' must be text, prompt or progression, got '" + text_field_ + "'");
}

std::int64_t SyntheticChestDataset::size() const { return subjects_ * chest_.timepoints(); }

whatif::Example SyntheticChestDataset::get(std::int64_t index) const {
  if (index < 0 || index >= size())
    throw whatif::Error("example " + std::to_string(index) + " is out of range (" + std::to_string(size()) +
                        " examples)");
  auto scan = chest_.scan(index / chest_.timepoints(), static_cast<int>(index % chest_.timepoints()));
  if (text_field_ == "prompt") scan.example.text = scan.prompt;
  if (text_field_ == "progression") scan.example.text = scan.change.empty() ? scan.prompt : scan.change + "\n" + scan.prompt;
  if (!window_.empty()) scan.example.image = (scan.example.image - window_[0]) / (window_[1] - window_[0]);
  return std::move(scan.example);
}

std::string SyntheticChestDataset::units() const {
  if (window_.empty()) return chest_.units();
  std::ostringstream out;
  out << chest_.units() << " mapped linearly: " << window_[0] << " -> 0, " << window_[1] << " -> 1";
  return out.str();
}

std::vector<std::string> SyntheticChestDataset::attribute_names() const {
  std::vector<std::string> names;
  for (const auto& [name, value] : whatif::data::ChestFindings().attributes()) names.push_back(name);
  return names;
}

std::vector<std::pair<std::int64_t, std::int64_t>> SyntheticChestDataset::pairs() const {
  return whatif::data::SyntheticChest::pairs(subjects_, chest_.timepoints());
}

}  // namespace whatif_datasets

#include "synthetic_brain_dataset.hpp"

#include <whatif/registry/error.hpp>

namespace whatif_datasets {

using whatif::data::SyntheticBrain;

SyntheticBrainDataset::SyntheticBrainDataset(whatif::data::BrainOptions options, std::int64_t subjects,
                                             std::string text_field)
    : brain_(std::move(options)), subjects_(subjects), text_field_(std::move(text_field)) {
  if (subjects_ < 1) throw whatif::Error("option 'subjects' must be at least 1");
  if (text_field_ != "text" && text_field_ != "prompt" && text_field_ != "progression")
    throw whatif::Error("option 'text' must be text, prompt or progression, got '" + text_field_ + "'");
}

std::int64_t SyntheticBrainDataset::size() const { return subjects_ * SyntheticBrain::kLevels; }

whatif::Example SyntheticBrainDataset::get(std::int64_t index) const {
  if (index < 0 || index >= size())
    throw whatif::Error("example " + std::to_string(index) + " is out of range (" + std::to_string(size()) +
                        " examples)");
  auto twin = brain_.twin(index / SyntheticBrain::kLevels, static_cast<int>(index % SyntheticBrain::kLevels));
  if (text_field_ == "prompt") twin.example.text = twin.prompt;
  if (text_field_ == "progression") twin.example.text = twin.prompt + "\n" + twin.example.text;
  return std::move(twin.example);
}

std::vector<std::string> SyntheticBrainDataset::attribute_names() const {
  if (brain_.options().task == "ms") return {"lesion_count", "lesion_volume_ml", "level"};
  return {"hippocampus_volume_ml", "level", "ventricle_volume_ml"};
}

std::vector<std::pair<std::int64_t, std::int64_t>> SyntheticBrainDataset::pairs() const {
  return SyntheticBrain::pairs(subjects_);
}

}  // namespace whatif_datasets

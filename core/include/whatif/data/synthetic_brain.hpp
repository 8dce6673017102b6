#pragma once
// The ground-truth counterfactual brain benchmark, built from real anatomy (Debian mricron-data:
// Colin27 T1 `ch2bet`, the `aal` atlas and the JHU white-matter atlas). Every subject is a smooth
// random deformation of the template with its own scale, bias field, contrast and noise; each
// subject has three twins that differ only in the studied finding, with exact ground truth:
//   ms: lesion load minimal / moderate / high — nested T1-hypointense white-matter lesions;
//       mask 1 = lesion; attributes level, lesion_count, lesion_volume_ml.
//   ad: cognition normal / MCI / dementia — hippocampal atrophy and ventricular enlargement by a
//       deformation of graded strength; mask 1 = hippocampus, 2 = ventricles; attributes level,
//       hippocampus_volume_ml, ventricle_volume_ml.
// Example index = subject * 3 + level. Everything is a function of (seed, subject).
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "whatif/data/volume.hpp"
#include "whatif/dataset.hpp"

namespace whatif::data {

struct BrainAtlas;
struct BrainAnatomy;

struct BrainOptions {
  std::string task = "ms";  // ms | ad
  std::int64_t size = 32;   // 32 | 64 | 128: a brain-centred cube of size³ voxels
  int dims = 3;             // 3, or 2 for one axial slice through the studied region
  std::uint64_t seed = 0;
  std::string templates = "/usr/share/mricron/templates";
};

struct BrainTwin {
  Example example;     // image [1, (D,) H, W] in 0..~1, mask uint8, report in `text`
  std::string prompt;  // short form: "high lesion load", "dementia", ...
  int level = 0;
};

class SyntheticBrain {
 public:
  static constexpr int kLevels = 3;

  // Loads and resamples the templates (cached per folder and size for the process's lifetime).
  // Throws Error naming the folder or file when the templates are missing or the options invalid.
  explicit SyntheticBrain(BrainOptions options);
  ~SyntheticBrain();

  const BrainOptions& options() const { return options_; }
  // The level names of the task, lowest first: minimal/moderate/high or normal/MCI/dementia.
  const std::array<std::string, kLevels>& level_names() const;
  Geometry geometry() const;  // of every example (2D: the slice's plane, z spacing = thickness)
  std::string units() const;  // of the intensities

  std::vector<BrainTwin> subject(std::int64_t subject) const;  // all levels, cheaper than 3 twins
  BrainTwin twin(std::int64_t subject, int level) const;
  // Where the AD deformation of `subject` is non-zero: bool [(D,) H, W]. Empty for ms.
  at::Tensor deformation_support(std::int64_t subject) const;
  // All ordered (factual, counterfactual) pairs among the twins of subjects 0..subjects-1.
  static std::vector<std::pair<std::int64_t, std::int64_t>> pairs(std::int64_t subjects);

 private:
  BrainAnatomy anatomy(std::int64_t subject) const;
  // Twins of `subject`: all levels, or only `level` (plus the normal twin AD reports compare to).
  std::vector<BrainTwin> generate(std::int64_t subject, int level) const;

  BrainOptions options_;
  std::shared_ptr<const BrainAtlas> atlas_;
};

}  // namespace whatif::data

#pragma once
// The synthetic chest benchmark: a parametric (XCAT-style) thorax in Hounsfield units with exact
// ground truth for every finding, followed over time. Each subject has a baseline and follow-up
// scans on the same anatomy (same seed, no pose change) in which findings appear, grow, shrink or
// resolve; scans of one subject differ only inside the findings' masks.
//   anatomy   body outline with subcutaneous fat and chest wall, two lungs with fissures (five
//             lobes) and a pulmonary vessel tree, heart, aorta, trachea and main bronchi, spine,
//             ribs, sternum, scapulae; per-subject habitus, lung size, heart size and position,
//             rib spacing (ranges in docs/data.md)
//   findings  pulmonary nodules (lobe, diameter), pleural effusion (side, volume, meniscus),
//             consolidation (lobe, volume, air bronchograms), cardiomegaly (cardiothoracic
//             ratio), emphysema (% of the aerated lung below -950 HU)
//   text      a report per scan (findings and impression) and, per baseline -> follow-up pair, an
//             interpretation, both from a deterministic grammar over the findings table
//   modality  ct: [1, S, S, S] HU; cxr: a PA radiograph [1, 2S, 2S] (parallel-beam DRR, drr.hpp)
// Example index = subject * timepoints + time. Everything is a function of (seed, subject, size).
#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "whatif/data/volume.hpp"
#include "whatif/dataset.hpp"

namespace whatif::data {

enum class ChestTissue : std::uint8_t {
  air, fat, muscle, lung, airway, blood, myocardium, abdomen, trabecular, cortical, csf, disc, count
};
float tissue_hu(ChestTissue tissue);  // nominal HU: air -1000, lung -850, fat -100, muscle 40, ...
const char* tissue_name(ChestTissue tissue);

// Finding labels in the masks (one label per voxel).
enum ChestLabel : std::uint8_t {
  kNoduleLabel = 1, kEffusionLabel = 2, kConsolidationLabel = 3, kEmphysemaLabel = 4, kCardiomegalyLabel = 5
};
// HU painted inside findings.
constexpr float kEffusionHu = 15, kConsolidationHu = 35, kNoduleHu = 40, kEmphysemaHu = -975;

enum ChestLobe : int { kNoLobe = 0, kRightUpper = 1, kRightMiddle, kRightLower, kLeftUpper, kLeftLower };
const char* lobe_name(int lobe);  // "right upper lobe"

struct ChestNodule {
  int id = 0;  // the same nodule keeps its id over time
  int lobe = kNoLobe;
  std::array<double, 3> centre{};  // mm: x to the patient's right, y anterior, z superior
  double diameter_mm = 0;
};

// The findings table of one scan: what its report says and what its masks contain.
struct ChestFindings {
  int time = 0;  // 0 = baseline
  double months = 0;
  std::vector<ChestNodule> nodules;             // present at this time point
  std::array<double, 2> effusion_ml{0, 0};      // right, left
  std::array<double, 2> meniscus_mm{0, 0};      // how far the fluid climbs the lateral wall
  int consolidation_lobe = kNoLobe;
  double consolidation_ml = 0;
  bool air_bronchograms = false;
  double ctr = 0;  // cardiothoracic ratio; cardiomegaly above 0.5
  double emphysema_percent = 0;
  bool cardiomegaly() const { return ctr > 0.5; }
  // As scalar attributes: time, months, nodule_count, nodule_<i>_diameter_mm / _lobe (i = 1..3),
  // effusion_right_ml, effusion_left_ml, consolidation_ml, consolidation_lobe, air_bronchograms,
  // ctr, cardiomegaly, emphysema_percent.
  std::map<std::string, double> attributes() const;
};

struct ChestOptions {
  std::int64_t size = 64;      // 32..128: the CT grid is size³ over the field of view
  std::string modality = "ct"; // ct | cxr
  int followups = 2;           // scans after the baseline, 1..4
  std::uint64_t seed = 0;
  double fov_mm = 360;         // cubic field of view, 340..480 mm
};

struct ChestScan {
  Example example;      // image [1, S, S, S] HU or [1, 2S, 2S] radiograph; mask labels; report
  std::string prompt;   // follow-up: the interpretation against the baseline; baseline: impression
  std::string change;   // follow-up: the change in a few words ("new right upper lobe nodule"); baseline: ""
  ChestFindings findings;
  at::Tensor tissue;    // ct: [S, S, S] uint8 ChestTissue of every voxel
};

class SyntheticChest {
 public:
  static constexpr int kMaxNodules = 3;

  // Throws Error naming the option when the options are out of range.
  explicit SyntheticChest(ChestOptions options);

  const ChestOptions& options() const { return options_; }
  int timepoints() const { return options_.followups + 1; }
  Geometry geometry() const;  // of every example (cxr: detector pixels, x to the patient's left)
  std::string units() const;  // of the intensities: HU (ct) or line integrals −ln(I/I0) (cxr)

  std::vector<ChestScan> subject(std::int64_t subject) const;  // baseline and follow-ups
  ChestScan scan(std::int64_t subject, int time) const;
  std::vector<ChestFindings> findings(std::int64_t subject) const;  // the tables alone (no images)
  // (baseline, follow-up) example indices of subjects 0..subjects-1.
  static std::vector<std::pair<std::int64_t, std::int64_t>> pairs(std::int64_t subjects, int timepoints);

 private:
  std::vector<ChestScan> generate(std::int64_t subject, int only) const;
  ChestOptions options_;
};

}  // namespace whatif::data

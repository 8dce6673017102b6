#pragma once
// Effect measures for chest CT without masks: what a counterfactual scorer can read from HU
// volumes alone. Emphysema is measured on one volume; effusion, consolidation and nodules as the
// change from a source scan of the same subject (as the brain's effectiveness measure does), which
// cancels the anatomy both scans share. `calibrate_chest_measures` fits one scale per measure on
// ground-truth twins (synthetic-chest pairs) and reports each measure's error on held-out twins.
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "whatif/data/volume.hpp"
#include "whatif/dataset.hpp"

namespace whatif::data {

// LAA-950: percent of the aerated lung below -950 HU. The lung is air-like tissue (< -600 HU
// after a 3×3×3 mean) not connected to the side faces of the volume, without the airways (air
// below -990 HU connected to the top or bottom face, where the trachea leaves the field, plus
// one voxel around it). `hu`: [D, H, W].
double emphysema_percent(const at::Tensor& hu);

// Cardiothoracic ratio on one volume: the widest transverse extent (along index axis i, the
// patient's left-right axis) of the largest connected body of heart muscle and blood (25–150 HU
// after a 3×3×3 mean: denser than fluid, lighter than bone) lying between the lungs along a row,
// in front of the lungs' centre, in axial slices that hold at least half the largest lung area;
// over the lungs' transverse extent. Index axis j must run toward the front.
double cardiothoracic_ratio(const at::Tensor& hu);

// Change from `source` to `target` (both [D, H, W] HU on the same grid): voxels that turn from
// air-like (< -600 HU) to dense (> -400 HU), minus those that turn back, grouped into connected
// components (26-neighbourhood). A component with 10 % or more fat (< -45 HU) is a heart growing
// into the lung with its pericardial fat and is skipped; the others are classed by their mean HU:
// fluid (< 25 HU) is effusion, on the side of its centroid; denser components of 10 ml or more are
// consolidation, smaller ones nodules. Volumes in ml; positive = grown.
struct ChestChange {
  std::array<double, 2> effusion_ml{0, 0};  // right, left (the patient's)
  double consolidation_ml = 0;
  double nodule_ml = 0;
};
ChestChange chest_change(const at::Tensor& source, const at::Tensor& target, const Geometry& geometry);

// The true change from a synthetic-chest example's attributes `before` to `after`, as chest_change
// measures it: effusion per side, consolidation, and the nodules' volume as spheres of the stated
// diameters (nodule_<k>_diameter_mm, k = 1..3). Throws naming a missing attribute.
ChestChange true_chest_change(const std::map<std::string, double>& before, const std::map<std::string, double>& after);

// True and measured values for every (baseline, follow-up) pair of a synthetic-chest CT dataset
// (`example(i)` gives example i, with its findings as attributes).
// Scales are fitted on even subjects (least squares through the origin) and the errors are those
// of the scaled measures on odd subjects. Keys: "<measure>_scale", "<measure>_error" (mean
// absolute error, ml or percentage points), "<measure>_truth" (mean absolute true value) and
// "<measure>_correlation", for effusion_ml, consolidation_ml, nodule_ml, emphysema_percent and ctr;
// "pairs".
std::map<std::string, double> calibrate_chest_measures(
    const std::vector<std::pair<std::int64_t, std::int64_t>>& pairs,
    const std::function<Example(std::int64_t)>& example);

}  // namespace whatif::data

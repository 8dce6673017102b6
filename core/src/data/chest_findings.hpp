#pragma once
// The findings of one synthetic-chest subject over time: their courses (absent, stable, appear,
// grow, shrink, resolve), their places in the anatomy, and the orderings that turn a requested
// volume into a mask. A region of volume V is the first round(V / voxel) candidate voxels by a
// fixed key, so the masks of one finding at different times are nested and its requested volume
// is met to half a voxel on any grid.
#include <array>
#include <random>
#include <vector>

#include "data/chest_anatomy.hpp"

namespace whatif::data {

struct ChestPlan {
  std::vector<ChestFindings> timeline;  // one table per time point
  std::vector<double> heart_scale;      // per time point
  double heart_scale_max = 1;
  std::array<double, 2> effusion_max_ml{0, 0};
  std::array<double, 2> meniscus_mm{0, 0};  // per side, constant over time
  double consolidation_max_ml = 0;
  Point consolidation_centre{};
  SmoothField consolidation_field, emphysema_field;
  std::vector<ChestNodule> nodules;  // every nodule of the subject at its largest diameter
};

// `min_nodule_mm`: the smallest diameter drawn (1.5 CT voxels, at least 4 mm).
ChestPlan plan_chest(const ChestAnatomy& anatomy, std::mt19937_64& rng, int timepoints, double min_nodule_mm);

// Fill orders: lower keys fill first.
// Effusion: the lowest part of the pleural space first (upright gravity along -z), climbing the
// lateral wall by up to `meniscus` mm, posterior recess slightly before the anterior.
double effusion_key(const ChestAnatomy& anatomy, const Point& p, double meniscus);
// Consolidation: a lumpy ball around its centre, bounded by the lobe's fissures.
double consolidation_key(const ChestPlan& plan, const Point& p);
// Emphysema: patchy, upper zones first.
double emphysema_key(const ChestPlan& plan, const Point& p);

}  // namespace whatif::data

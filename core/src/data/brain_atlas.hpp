#pragma once
// The mricron-data templates resampled onto a brain-centred cube, with the regions the synthetic
// brain needs. Built once per (folder, size) and kept for the process's lifetime.
#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "whatif/data/volume.hpp"

namespace whatif::data {

struct Region {
  std::array<double, 3> centre{};  // voxel coordinates (i, j, k) of the atlas grid
  std::array<double, 3> radius{};  // half extent along i, j, k in voxels
};

struct BrainAtlas {
  std::int64_t size = 0;
  Geometry geometry;  // size³ voxels, isotropic spacing, the direction of ch2bet
  // [1, 10, S, S, S], sampled with linear interpolation: T1 scaled so the brain's 99th
  // percentile is 1; distance to the ventricles (mm); then for the hippocampi and for the
  // ventricles a smoothed signed distance D (mm, negative inside) and its gradient ∇D along
  // (i, j, k) — the outward normal that the AD deformation pushes along.
  at::Tensor linear;
  // [1, 4, S, S, S]: AAL label, JHU label, ventricles (0/1), brain (0/1). Nearest neighbour.
  at::Tensor nearest;
  Region hippocampus[2];  // AAL 37 (left), 38 (right)
  Region ventricles;      // derived: dark CSF near the centre of the brain
};

// Throws Error naming the missing or unreadable template file.
std::shared_ptr<const BrainAtlas> load_brain_atlas(const std::string& folder, std::int64_t size);

}  // namespace whatif::data

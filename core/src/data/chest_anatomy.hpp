#pragma once
// The parametric thorax of the synthetic chest: analytic shapes in millimetres (x toward the
// patient's right, y anterior, z superior, origin at the centre of the field of view), drawn from
// one random stream per subject. `classify` gives the tissue at any point, so the CT grid, the
// finer radiograph grid and the planning grid all see the same anatomy.
#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "whatif/data/synthetic_chest.hpp"

namespace whatif::data {

using Point = std::array<double, 3>;

struct Capsule {  // a cylinder with rounded ends: points within r of the segment a–b
  Point a{}, b{};
  double r = 0;
};

// Capsules bucketed by z, so a point tests only those that can reach it.
class CapsuleSet {
 public:
  void add(const Capsule& c) { capsules_.push_back(c); }
  void build(double reach_mm);  // reach: the farthest beyond r a query needs (partial volume, walls)
  // Calls f(capsule, distance to its axis) for every capsule whose bucket holds z.
  template <class F>
  void visit(const Point& p, F&& f) const;
  const std::vector<Capsule>& capsules() const { return capsules_; }

 private:
  std::vector<Capsule> capsules_;
  std::vector<std::vector<int>> buckets_;
  double z0_ = 0, dz_ = 8;
};

double segment_distance(const Point& p, const Point& a, const Point& b);

template <class F>
void CapsuleSet::visit(const Point& p, F&& f) const {
  if (buckets_.empty()) return;
  const auto k = static_cast<std::int64_t>((p[2] - z0_) / dz_);
  if (k < 0 || k >= static_cast<std::int64_t>(buckets_.size())) return;
  for (int index : buckets_[static_cast<std::size_t>(k)]) {
    const Capsule& c = capsules_[static_cast<std::size_t>(index)];
    f(c, segment_distance(p, c.a, c.b));
  }
}

// What `classify` reports beyond the tissue.
struct PointInfo {
  ChestTissue tissue = ChestTissue::air;
  int side = -1;          // lungs: 0 right, 1 left
  int lobe = 0;           // lungs: ChestLobe value
  double vessel = 0;      // lungs: fraction of the voxel filled by a pulmonary vessel (0–1)
  double bronchus = 0;    // lungs: fraction filled by the air column of a bronchus
  double fissure = 0;     // lungs: fraction filled by fissural pleura
};

struct ChestAnatomy {
  double body_a = 150, body_b = 120;  // body outline: elliptic cylinder semi-axes (x, y)
  double fat = 12;                    // subcutaneous fat thickness
  static constexpr double kWall = 20; // chest wall inside the fat: 10 mm muscle + 10 mm rib layer
  double cav_a = 0, cav_b = 0;        // thoracic cavity (inside the ribs) semi-axes
  double lung_top = 150, shoulder = 80;  // apex height; above `shoulder` the cavity tapers
  std::array<double, 2> base{}, dome{};  // costophrenic height and diaphragm dome rise per side
  double mediastinum = 12;               // lungs start this far from the midline
  double lung_cx = 0, lung_ax = 0, lung_cy = 0, lung_ay = 0;  // each lung's axial ellipse
  double oblique_z = 0, oblique_slope = 1.1, horizontal_z = 0;  // fissures
  // Heart silhouette (pericardial fat, myocardium, blood) at scale 1: an ellipsoid rotated about
  // z by `heart_angle` (long axis toward the left, anterior).
  Point heart_centre{};
  std::array<double, 3> heart_axes{};
  double heart_angle = 0.6;
  double ctr = 0.45;  // the subject's own cardiothoracic ratio
  // Spine
  double spine_y = 0, vertebra_r = 18, rib_spacing = 25, rib_top = 140, rib_drop = 45;
  double disc = 5;
  // Structures drawn as capsules
  CapsuleSet bones, aorta, airways, vessels;
  double airway_wall = 2;
  double noise_hu = 12;

  // Heart scale that gives cardiothoracic ratio `ctr` (transverse silhouette width / 2 cav_a).
  double heart_scale(double ctr) const;
  // Tissue at p with the heart at `heart_scale`, for voxels of size h mm (partial volumes).
  PointInfo classify(const Point& p, double heart_scale, double h) const;
  // The lung region alone (no overrides): 0 right, 1 left, -1 outside.
  int lung_side(const Point& p) const;
  bool in_heart(const Point& p, double heart_scale) const;
  // Vertical taper of the cavity and lungs near the apex: 1 below `shoulder`, 0 at `lung_top`.
  double taper(double z) const;
  // Approximate distance (mm) from p inside the cavity to its wall.
  double cavity_depth(const Point& p) const;
  int lobe_of(const Point& p, int side) const;
};

ChestAnatomy make_chest_anatomy(std::mt19937_64& rng);

// Uniform draws and a smooth random field that are the same on every platform.
double uniform(std::mt19937_64& rng, double lo, double hi);
double standard_normal(std::mt19937_64& rng);

struct SmoothField {  // sum of three plane waves, values in [-1, 1]
  std::array<Point, 3> k{};
  std::array<double, 3> phase{};
  double operator()(const Point& p) const;
};
SmoothField make_smooth_field(std::mt19937_64& rng, double wavelength_lo, double wavelength_hi);

}  // namespace whatif::data

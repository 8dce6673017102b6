#include "data/chest_anatomy.hpp"

#include <algorithm>
#include <cmath>

namespace whatif::data {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kFov = 360;  // anatomy is laid out for a 360 mm cube; larger fields add margin

double clamp01(double v) { return std::min(1.0, std::max(0.0, v)); }
Point lerp(const Point& a, const Point& b, double t) {
  return {a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), a[2] + t * (b[2] - a[2])};
}

// Fraction of a voxel of size h whose centre lies at signed depth `inside` (mm) in a structure.
double occupancy(double inside, double h) { return clamp01(0.5 + inside / h); }

// Approximate distance from (x, y) to the ellipse (a, b), positive inside: (1 - F) / |grad F|.
double ellipse_depth(double x, double y, double a, double b) {
  const double f = (x * x) / (a * a) + (y * y) / (b * b);
  const double gx = 2 * x / (a * a), gy = 2 * y / (b * b);
  const double g = std::max(std::sqrt(gx * gx + gy * gy), 2.0 / std::max(a, b));
  return (1 - f) / g;
}

void add_pulmonary_tree(ChestAnatomy& a, int side, std::mt19937_64& rng) {
  const double sigma = side == 0 ? 1 : -1;
  const Point hilum{sigma * (a.mediastinum + 18), a.lung_cy + 10, a.oblique_z + 30};
  // A random point of the lung ahead of `from` along `dir` (anywhere for a zero direction).
  const auto random_lung_point = [&](const Point& from, const Point& dir, Point& out) {
    for (int attempt = 0; attempt < 60; ++attempt) {
      const Point q{sigma * uniform(rng, a.mediastinum, a.cav_a), uniform(rng, -a.cav_b, a.cav_b),
                    uniform(rng, a.base[side], a.lung_top)};
      const double along = (q[0] - from[0]) * dir[0] + (q[1] - from[1]) * dir[1] + (q[2] - from[2]) * dir[2];
      if (a.lung_side(q) == side && along >= 0) return out = q, true;
    }
    return false;
  };
  struct Branch {
    Point p, dir;
    double r, length;
    int generation;
  };
  std::vector<Branch> stack{{hilum, {sigma, 0, 0}, 7.0, 45.0, 0}};
  while (!stack.empty()) {
    const Branch b = stack.back();
    stack.pop_back();
    const int children = b.generation == 0 ? 4 : 2;
    for (int c = 0; c < children; ++c) {
      Point target;
      if (!random_lung_point(b.p, b.generation == 0 ? Point{0, 0, 0} : b.dir, target)) continue;
      Point d{target[0] - b.p[0], target[1] - b.p[1], target[2] - b.p[2]};
      const double distance = std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
      const double length = std::min(b.length, 0.6 * distance);
      Point q{b.p[0] + d[0] / distance * length, b.p[1] + d[1] / distance * length, b.p[2] + d[2] / distance * length};
      if (a.lung_side(q) != side) continue;
      a.vessels.add({b.p, q, b.r});
      if (b.generation < 6)
        stack.push_back({q, {d[0] / distance, d[1] / distance, d[2] / distance}, b.r * 0.79, b.length * 0.8, b.generation + 1});
    }
  }
}

}  // namespace

double uniform(std::mt19937_64& rng, double lo, double hi) {
  return lo + (hi - lo) * (static_cast<double>(rng() >> 11) * 0x1.0p-53);
}

double standard_normal(std::mt19937_64& rng) {  // Box–Muller from explicit draws
  const double u = uniform(rng, 1e-12, 1.0), v = uniform(rng, 0.0, 1.0);
  return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * kPi * v);
}

double SmoothField::operator()(const Point& p) const {
  double sum = 0;
  for (int w = 0; w < 3; ++w) sum += std::sin(k[w][0] * p[0] + k[w][1] * p[1] + k[w][2] * p[2] + phase[w]);
  return sum / 3;
}

SmoothField make_smooth_field(std::mt19937_64& rng, double wavelength_lo, double wavelength_hi) {
  SmoothField f;
  for (int w = 0; w < 3; ++w) {
    Point d{standard_normal(rng), standard_normal(rng), standard_normal(rng)};
    const double n = std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) + 1e-12;
    const double k = 2 * kPi / uniform(rng, wavelength_lo, wavelength_hi);
    f.k[w] = {d[0] / n * k, d[1] / n * k, d[2] / n * k};
    f.phase[w] = uniform(rng, 0, 2 * kPi);
  }
  return f;
}

double segment_distance(const Point& p, const Point& a, const Point& b) {
  const double ab[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]};
  const double ap[3] = {p[0] - a[0], p[1] - a[1], p[2] - a[2]};
  const double len2 = ab[0] * ab[0] + ab[1] * ab[1] + ab[2] * ab[2];
  const double t = len2 > 0 ? clamp01((ap[0] * ab[0] + ap[1] * ab[1] + ap[2] * ab[2]) / len2) : 0.0;
  const double d[3] = {ap[0] - t * ab[0], ap[1] - t * ab[1], ap[2] - t * ab[2]};
  return std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
}

void CapsuleSet::build(double reach_mm) {
  z0_ = -kFov;  // covers fields of view up to 2 * kFov
  buckets_.assign(static_cast<std::size_t>(2 * kFov / dz_) + 1, {});
  for (std::size_t c = 0; c < capsules_.size(); ++c) {
    const Capsule& s = capsules_[c];
    const double lo = std::min(s.a[2], s.b[2]) - s.r - reach_mm, hi = std::max(s.a[2], s.b[2]) + s.r + reach_mm;
    const auto k0 = std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor((lo - z0_) / dz_)));
    const auto k1 = std::min<std::int64_t>(static_cast<std::int64_t>(buckets_.size()) - 1,
                                           static_cast<std::int64_t>(std::floor((hi - z0_) / dz_)));
    for (std::int64_t k = k0; k <= k1; ++k) buckets_[static_cast<std::size_t>(k)].push_back(static_cast<int>(c));
  }
}

ChestAnatomy make_chest_anatomy(std::mt19937_64& rng) {
  ChestAnatomy a;
  const double habitus = uniform(rng, 0, 1);  // small and lean .. large
  a.body_a = 140 + 30 * habitus + uniform(rng, -5, 5);
  a.body_b = 110 + 25 * habitus + uniform(rng, -5, 5);
  a.fat = 6 + 18 * clamp01(0.6 * habitus + 0.4 * uniform(rng, 0, 1));
  a.cav_a = a.body_a - a.fat - ChestAnatomy::kWall;
  a.cav_b = a.body_b - a.fat - ChestAnatomy::kWall;
  const double lung_scale = uniform(rng, 0.85, 1.1);
  a.lung_top = 150 * lung_scale - 10;
  a.shoulder = a.lung_top - 70;
  a.base = {-130 * lung_scale + 12, -130 * lung_scale};
  a.dome = {60 * lung_scale, 50 * lung_scale};
  a.lung_cx = 0.5 * (a.mediastinum + a.cav_a);
  a.lung_ax = 0.5 * (a.cav_a - a.mediastinum);
  a.lung_cy = -0.05 * a.cav_b;
  a.lung_ay = 1.02 * a.cav_b;
  a.oblique_z = 0.5 * (a.lung_top + a.base[1]) - 20 + uniform(rng, -8, 8);
  a.oblique_slope = uniform(rng, 0.95, 1.25);
  a.horizontal_z = a.oblique_z + uniform(rng, 20, 32);

  a.heart_axes = {55 * uniform(rng, 0.92, 1.08), 42 * uniform(rng, 0.92, 1.08), 48 * uniform(rng, 0.92, 1.08)};
  a.heart_angle = uniform(rng, 25, 45) * kPi / 180;
  // On the left dome, its lowest fifth below the dome's top.
  a.heart_centre = {-a.cav_a * uniform(rng, 0.12, 0.22), 0.25 * a.cav_b,
                    a.base[1] + a.dome[1] + 0.8 * a.heart_axes[2]};
  a.ctr = uniform(rng, 0.40, 0.48);

  a.vertebra_r = uniform(rng, 16, 21);
  a.spine_y = -a.body_b + a.fat + 70;
  a.rib_spacing = uniform(rng, 22, 28);
  a.rib_top = a.lung_top - 8;
  a.rib_drop = uniform(rng, 35, 55);
  a.noise_hu = uniform(rng, 8, 20);

  // Ribs: 12 pairs from the transverse processes around the wall, descending anteriorly.
  for (int n = 1; n <= 12; ++n) {
    const double zn = a.rib_top - (n - 1) * a.rib_spacing;
    const double cz = std::max(0.55, a.taper(zn));
    const double ra = a.cav_a * cz + 5, rb = a.cav_b * cz + 5;
    const double end = n <= 7 ? 0.82 : n <= 10 ? 0.72 - 0.04 * (n - 8) : n == 11 ? 0.45 : 0.35;
    for (double sigma : {1.0, -1.0}) {
      Point previous{};
      for (int s = 0; s <= 10; ++s) {
        const double theta = kPi * (0.08 + (end - 0.08) * s / 10.0);
        const Point q{sigma * ra * std::sin(theta), -rb * std::cos(theta),
                      zn - a.rib_drop * (1 - std::cos(theta)) / 2};
        if (s > 0) a.bones.add({previous, q, 5.0});
        previous = q;
      }
    }
  }
  // Vertebral processes, one set per level over the whole field.
  const double canal_y = a.spine_y - 0.85 * a.vertebra_r - 9;
  for (double zl = a.rib_top - 0.5 * a.rib_spacing; zl > -kFov; zl -= a.rib_spacing) {
    a.bones.add({{0, canal_y - 11, zl}, {0, canal_y - 33, zl - 10}, 4.5});
    for (double sigma : {1.0, -1.0}) a.bones.add({{sigma * 10, canal_y + 2, zl}, {sigma * 30, canal_y - 6, zl + 2}, 5.0});
  }
  for (double zl = a.rib_top + 0.5 * a.rib_spacing; zl < kFov; zl += a.rib_spacing) {
    a.bones.add({{0, canal_y - 11, zl}, {0, canal_y - 33, zl - 10}, 4.5});
    for (double sigma : {1.0, -1.0}) a.bones.add({{sigma * 10, canal_y + 2, zl}, {sigma * 30, canal_y - 6, zl + 2}, 5.0});
  }

  // Airways: trachea to the carina, main bronchi to the hila.
  const double trachea_r = uniform(rng, 8, 11);
  const double trachea_y = a.spine_y + 0.85 * a.vertebra_r + 22;
  const double carina_z = a.oblique_z + 55;
  a.airways.add({{0, trachea_y, kFov}, {0, trachea_y, carina_z}, trachea_r});
  a.airways.add({{0, trachea_y, carina_z}, {a.mediastinum + 22, trachea_y + 5, carina_z - 22}, 0.7 * trachea_r});
  a.airways.add({{0, trachea_y, carina_z}, {-(a.mediastinum + 32), trachea_y, carina_z - 35}, 0.65 * trachea_r});

  // Aorta: ascending right of the midline, arch over the left main bronchus, descending beside
  // the spine through the diaphragm.
  const double aorta_r = uniform(rng, 12, 15);
  const double arch_z = carina_z + 10;
  const Point ascending{0.1 * a.cav_a, 0.2 * a.cav_b, a.heart_centre[2] + 0.5 * a.heart_axes[2]};
  const Point arch_start{ascending[0], ascending[1], arch_z};
  const Point arch_end{-(a.vertebra_r + 0.85 * aorta_r + 4), a.spine_y + 6, arch_z};
  const Point arch_top{-30, trachea_y, arch_z + 45};  // quadratic Bézier control point
  a.aorta.add({ascending, arch_start, aorta_r});
  Point previous = arch_start;
  for (int s = 1; s <= 8; ++s) {
    const double t = s / 8.0;
    const Point q = lerp(lerp(arch_start, arch_top, t), lerp(arch_top, arch_end, t), t);
    a.aorta.add({previous, q, aorta_r * (1 - 0.15 * t)});
    previous = q;
  }
  a.aorta.add({arch_end, {arch_end[0], arch_end[1] + 8, -kFov}, 0.85 * aorta_r});

  a.bones.build(3);
  a.airways.build(a.airway_wall + 3);
  a.aorta.build(3);
  add_pulmonary_tree(a, 0, rng);
  add_pulmonary_tree(a, 1, rng);
  a.vessels.build(8);
  return a;
}

double ChestAnatomy::taper(double z) const {
  if (z <= shoulder) return 1;
  const double u = (z - shoulder) / (lung_top - shoulder);
  return u >= 1 ? 0 : std::sqrt(1 - u * u);
}

int ChestAnatomy::lung_side(const Point& p) const {
  const double c = taper(p[2]);
  if (c <= 0) return -1;
  const double cz = std::max(0.55, c);
  if ((p[0] * p[0]) / (cav_a * cav_a * cz * cz) + (p[1] * p[1]) / (cav_b * cav_b * cz * cz) > 1) return -1;
  const int side = p[0] >= 0 ? 0 : 1;
  const double u = (std::abs(p[0]) - lung_cx) / lung_ax, v = (p[1] - lung_cy) / lung_ay;
  const double e = u * u + v * v;
  if (e > c * c) return -1;
  if (p[2] < base[side] + dome[side] * std::max(0.0, 1 - e)) return -1;
  return side;
}

int ChestAnatomy::lobe_of(const Point& p, int side) const {
  const double oblique = oblique_z - oblique_slope * (p[1] - lung_cy);
  if (p[2] < oblique) return side == 0 ? kRightLower : kLeftLower;
  if (side == 1) return kLeftUpper;
  return p[2] < horizontal_z ? kRightMiddle : kRightUpper;
}

double ChestAnatomy::cavity_depth(const Point& p) const {
  const double cz = std::max(0.55, taper(p[2]));
  return ellipse_depth(p[0], p[1], cav_a * cz, cav_b * cz);
}

double ChestAnatomy::heart_scale(double target_ctr) const {
  const double half_width = std::sqrt(std::pow(heart_axes[0] * std::cos(heart_angle), 2) +
                                      std::pow(heart_axes[1] * std::sin(heart_angle), 2));
  return target_ctr * cav_a / half_width;
}

namespace {

// Normalised ellipsoid radius of p in the heart's frame (< 1 inside). The heart grows in the
// axial plane by `scale` and vertically by half as much, resting on the diaphragm (its lowest
// point stays where it is at scale 1).
double heart_rho(const ChestAnatomy& a, const Point& p, double scale) {
  const double vertical = a.heart_axes[2] * (1 + 0.5 * (scale - 1));
  const double dx = p[0] - a.heart_centre[0], dy = p[1] - a.heart_centre[1];
  const double dz = p[2] - (a.heart_centre[2] + vertical - a.heart_axes[2]);
  const double c = std::cos(a.heart_angle), s = std::sin(a.heart_angle);
  const double u = -c * dx + s * dy, v = s * dx + c * dy;  // long axis toward the left, anterior
  const double q = std::pow(u / (scale * a.heart_axes[0]), 2) + std::pow(v / (scale * a.heart_axes[1]), 2) +
                   std::pow(dz / vertical, 2);
  return std::sqrt(q);
}

}  // namespace

bool ChestAnatomy::in_heart(const Point& p, double scale) const { return heart_rho(*this, p, scale) <= 1; }

PointInfo ChestAnatomy::classify(const Point& p, double scale, double h) const {
  PointInfo info;
  const double x = p[0], y = p[1], z = p[2];
  if ((x * x) / (body_a * body_a) + (y * y) / (body_b * body_b) > 1) return info;
  const auto set = [&](ChestTissue t) { return info.tissue = t, info; };

  // Bones first: ribs and vertebral processes (cortical shell 1.5 mm), vertebral bodies, sternum,
  // scapulae.
  double bone = -1;
  bones.visit(p, [&](const Capsule& c, double d) {
    if (d < c.r) bone = std::max(bone, c.r - d);
  });
  if (bone >= 0) return set(bone < 1.5 ? ChestTissue::cortical : ChestTissue::trabecular);
  const double ry = 0.85 * vertebra_r;
  const double body_depth = ellipse_depth(x, y - spine_y, vertebra_r, ry);
  if (body_depth >= 0) {
    const double phase = std::fmod(std::fmod(z - rib_top, rib_spacing) + rib_spacing, rib_spacing);
    if (phase < disc) return set(ChestTissue::disc);
    const double endplate = std::min(phase - disc, rib_spacing - phase);
    return set(std::min(body_depth, endplate) < 2 ? ChestTissue::cortical : ChestTissue::trabecular);
  }
  const double canal_y = spine_y - ry - 9;
  const double canal = std::hypot(x, y - canal_y);
  if (canal < 8) return set(ChestTissue::csf);
  if (canal < 13 && y < canal_y + 4) return set(ChestTissue::cortical);
  const double sternum_top = rib_top - 25;
  if (z < sternum_top && z > sternum_top - 170 && std::abs(x) < 16 && y > cav_b && y < cav_b + 12) {
    const double depth = std::min({16 - std::abs(x), y - cav_b, cav_b + 12 - y});
    return set(depth < 2 ? ChestTissue::cortical : ChestTissue::trabecular);
  }
  if (y < 0 && z < rib_top - 10 && z > rib_top - 160) {  // scapulae: thin plates behind the ribs
    const double theta = std::atan2(std::abs(x) / (cav_a + 16), -y / (cav_b + 16));
    const double reach = 0.14 * kPi + 0.30 * kPi * (z - (rib_top - 160)) / 150.0;
    if (theta > 0.14 * kPi && theta < reach && std::abs(ellipse_depth(x, y, cav_a + 16, cav_b + 16)) < 3)
      return set(ChestTissue::cortical);
  }

  // Airways (air column and wall) and the aorta.
  double airway = 1e9;
  airways.visit(p, [&](const Capsule& c, double d) { airway = std::min(airway, d - c.r); });
  if (airway < 0) return set(ChestTissue::airway);
  if (airway < airway_wall) return set(ChestTissue::muscle);
  bool in_aorta = false;
  aorta.visit(p, [&](const Capsule& c, double d) { in_aorta = in_aorta || d < c.r; });
  if (in_aorta) return set(ChestTissue::blood);

  // Body wall, cavity, heart.
  if (ellipse_depth(x, y, body_a, body_b) < fat) return set(ChestTissue::fat);
  const double cavity = cavity_depth(p);
  if (cavity < 0) return set(ChestTissue::muscle);
  const double back = spine_y - 0.5 * vertebra_r;  // paraspinal muscles: a half-ellipse behind the spine
  if (y < back && std::pow(x / 42, 2) + std::pow((y - back) / 60, 2) < 1) return set(ChestTissue::muscle);
  const double rho = heart_rho(*this, p, scale);
  if (rho <= 1) {
    const double depth = (1 - rho) * std::min({scale * heart_axes[0], scale * heart_axes[1], heart_axes[2]});
    return set(depth < 4 ? ChestTissue::fat : depth < 14 ? ChestTissue::myocardium : ChestTissue::blood);
  }
  const int side = x >= 0 ? 0 : 1;
  const double u = (std::abs(x) - lung_cx) / lung_ax, v = (y - lung_cy) / lung_ay;
  if (z < base[side] + dome[side] * std::max(0.0, 1 - (u * u + v * v))) return set(ChestTissue::abdomen);
  if (lung_side(p) < 0) return set(ChestTissue::fat);  // mediastinal fat

  info.tissue = ChestTissue::lung;
  info.side = side;
  info.lobe = lobe_of(p, side);
  vessels.visit(p, [&](const Capsule& c, double d) {
    info.vessel = std::max(info.vessel, occupancy(c.r - d, h));
    info.bronchus = std::max(info.bronchus, occupancy(0.55 * c.r - d, h));
  });
  // Fissures: 1 mm of pleura across the voxel where a fissure plane passes through it.
  const double norm = std::sqrt(1 + oblique_slope * oblique_slope);
  const double oblique = (z - (oblique_z - oblique_slope * (y - lung_cy))) / norm;
  double fissure_distance = std::abs(oblique);
  if (side == 0 && oblique > 0) fissure_distance = std::min(fissure_distance, std::abs(z - horizontal_z));
  if (fissure_distance < 0.5 * h) info.fissure = std::min(1.0, 1.0 / h);
  return info;
}

}  // namespace whatif::data

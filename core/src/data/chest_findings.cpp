#include "data/chest_findings.hpp"

#include <algorithm>
#include <cmath>

namespace whatif::data {
namespace {

enum Course { kStable, kAppear, kGrow, kShrink, kResolve };

Course draw_course(std::mt19937_64& rng, const std::array<double, 5>& weights) {
  double total = 0;
  for (double w : weights) total += w;
  double u = uniform(rng, 0, total);
  for (int c = 0; c < 5; ++c)
    if ((u -= weights[static_cast<std::size_t>(c)]) < 0) return static_cast<Course>(c);
  return kStable;
}

// Values of a finding at each time point: `value` at the baseline (or at its first appearance),
// multiplied or divided by `factor` per interval.
std::vector<double> course_values(Course course, double value, double factor, int timepoints, std::mt19937_64& rng) {
  std::vector<double> v(static_cast<std::size_t>(timepoints), value);
  const int event = 1 + static_cast<int>(rng() % static_cast<std::uint64_t>(timepoints - 1));
  for (int t = 0; t < timepoints; ++t) {
    auto& x = v[static_cast<std::size_t>(t)];
    switch (course) {
      case kStable: break;
      case kAppear: x = t < event ? 0 : value * std::pow(factor, t - event); break;
      case kGrow: x = value * std::pow(factor, t); break;
      case kShrink: x = value / std::pow(factor, t); break;
      case kResolve: x = t < event ? value / std::pow(factor, t) : 0; break;
    }
  }
  return v;
}

constexpr double kPlanFov = 360, kPlanStep = 9;  // planning grid: 40³ points, 9 mm apart

struct PlanPoint {
  Point p;
  int side, lobe;
};

std::vector<PlanPoint> planning_lung(const ChestAnatomy& a, double heart_scale) {
  std::vector<PlanPoint> points;
  const int n = static_cast<int>(kPlanFov / kPlanStep);
  for (int k = 0; k < n; ++k)
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < n; ++i) {
        const Point p{(i - 0.5 * (n - 1)) * kPlanStep, (j - 0.5 * (n - 1)) * kPlanStep, (k - 0.5 * (n - 1)) * kPlanStep};
        const PointInfo info = a.classify(p, heart_scale, kPlanStep);
        if (info.tissue == ChestTissue::lung) points.push_back({p, info.side, info.lobe});
      }
  return points;
}

// The key below which the first `volume_ml` of `keys` lies (keys of planning points).
double key_at_volume(std::vector<double> keys, double volume_ml) {
  const double voxel_ml = kPlanStep * kPlanStep * kPlanStep / 1000;
  const auto n = std::min(keys.size() - 1, static_cast<std::size_t>(volume_ml / voxel_ml));
  std::nth_element(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(n), keys.end());
  return keys[n];
}

}  // namespace

double effusion_key(const ChestAnatomy& a, const Point& p, double meniscus) {
  return p[2] - meniscus * std::max(0.0, 1 - a.cavity_depth(p) / 25) + 0.3 * p[1];
}

double consolidation_key(const ChestPlan& plan, const Point& p) {
  const Point& c = plan.consolidation_centre;
  return std::sqrt(std::pow(p[0] - c[0], 2) + std::pow(p[1] - c[1], 2) + std::pow(p[2] - c[2], 2)) +
         15 * plan.consolidation_field(p);
}

double emphysema_key(const ChestPlan& plan, const Point& p) { return 30 * plan.emphysema_field(p) - 0.25 * p[2]; }

ChestPlan plan_chest(const ChestAnatomy& a, std::mt19937_64& rng, int timepoints, double min_nodule_mm) {
  ChestPlan plan;
  const auto T = static_cast<std::size_t>(timepoints);
  plan.timeline.resize(T);
  const double interval = std::array<double, 3>{3, 6, 12}[rng() % 3];
  for (std::size_t t = 0; t < T; ++t) {
    plan.timeline[t].time = static_cast<int>(t);
    plan.timeline[t].months = interval * static_cast<double>(t);
  }

  // Courses and sizes.
  std::vector<double> ctr(T, a.ctr);
  if (uniform(rng, 0, 1) < 0.25) {
    const Course course = draw_course(rng, {1, 1, 1, 0, 1});
    const double c = uniform(rng, 0.52, 0.60);
    const int event = 1 + static_cast<int>(rng() % (T - 1));
    for (std::size_t t = 0; t < T; ++t) {
      const int ti = static_cast<int>(t);
      ctr[t] = course == kStable ? c
               : course == kGrow ? std::min(0.64, c + 0.03 * ti)
               : course == kAppear ? (ti < event ? a.ctr : std::min(0.64, c + 0.02 * (ti - event)))
                                   : (ti < event ? c : a.ctr);
    }
  }
  std::array<std::vector<double>, 2> effusion;
  auto& meniscus = plan.meniscus_mm;
  for (int side = 0; side < 2; ++side) {
    effusion[static_cast<std::size_t>(side)].assign(T, 0);
    if (uniform(rng, 0, 1) >= (side == 0 ? 0.30 : 0.25)) continue;
    const Course course = draw_course(rng, {1, 1.5, 1, 1, 1.5});
    effusion[static_cast<std::size_t>(side)] =
        course_values(course, uniform(rng, 80, 600), uniform(rng, 1.4, 2.2), timepoints, rng);
    meniscus[static_cast<std::size_t>(side)] = uniform(rng, 10, 30);
  }
  std::vector<double> consolidation(T, 0);
  int consolidation_lobe = kNoLobe;
  bool bronchograms = false;
  if (uniform(rng, 0, 1) < 0.30) {
    const Course course = draw_course(rng, {1, 3.5, 1, 1.5, 3});
    consolidation = course_values(course, uniform(rng, 40, 300), uniform(rng, 1.5, 2.5), timepoints, rng);
    consolidation_lobe = 1 + static_cast<int>(rng() % 5);
    bronchograms = uniform(rng, 0, 1) < 0.6;
  }
  std::vector<double> emphysema(T, 0);
  if (uniform(rng, 0, 1) < 0.25)
    emphysema = course_values(uniform(rng, 0, 1) < 0.5 ? kStable : kGrow, uniform(rng, 3, 18),
                              uniform(rng, 1.15, 1.35), timepoints, rng);
  for (auto& e : emphysema) e = std::min(e, 35.0);
  const double u = uniform(rng, 0, 1);
  const int nodule_count = u < 0.35 ? 0 : u < 0.70 ? 1 : u < 0.90 ? 2 : 3;
  std::vector<std::vector<double>> diameters;
  std::vector<int> lobes;
  for (int n = 0; n < nodule_count; ++n) {
    const Course course = draw_course(rng, {3, 2, 2.5, 1, 1.5});
    const double top = std::max(20.0, 1.5 * min_nodule_mm);
    auto d = course_values(course, std::exp(uniform(rng, std::log(min_nodule_mm), std::log(top))),
                           uniform(rng, 1.15, 1.4), timepoints, rng);
    for (auto& x : d) x = x > 0 ? std::min(30.0, std::max(min_nodule_mm, x)) : 0;
    diameters.push_back(d);
    lobes.push_back(1 + static_cast<int>(rng() % 5));
  }

  // Places. Volumes are capped so every finding fits in its region.
  plan.heart_scale.resize(T);
  for (std::size_t t = 0; t < T; ++t) plan.heart_scale[t] = a.heart_scale(ctr[t]);
  plan.heart_scale_max = *std::max_element(plan.heart_scale.begin(), plan.heart_scale.end());
  const std::vector<PlanPoint> lung = planning_lung(a, plan.heart_scale_max);
  const double voxel_ml = kPlanStep * kPlanStep * kPlanStep / 1000;
  const auto cap = [](std::vector<double>& values, double limit) {
    const double top = *std::max_element(values.begin(), values.end());
    if (top > limit)
      for (auto& v : values) v *= limit / top;
    return std::min(top, limit);
  };
  std::array<double, 2> effusion_limit{-1e9, -1e9};  // planning keys filled at the largest volume
  for (int side = 0; side < 2; ++side) {
    std::vector<double> keys;
    for (const auto& q : lung)
      if (q.side == side) keys.push_back(effusion_key(a, q.p, meniscus[static_cast<std::size_t>(side)]));
    auto& e = effusion[static_cast<std::size_t>(side)];
    plan.effusion_max_ml[static_cast<std::size_t>(side)] = cap(e, 0.4 * static_cast<double>(keys.size()) * voxel_ml);
    if (plan.effusion_max_ml[static_cast<std::size_t>(side)] > 0 && !keys.empty())
      effusion_limit[static_cast<std::size_t>(side)] =
          key_at_volume(keys, plan.effusion_max_ml[static_cast<std::size_t>(side)]) + 12;
  }
  const auto outside_effusion = [&](const Point& p, int side) {
    return effusion_key(a, p, meniscus[static_cast<std::size_t>(side)]) > effusion_limit[static_cast<std::size_t>(side)];
  };
  plan.consolidation_field = make_smooth_field(rng, 40, 80);
  plan.emphysema_field = make_smooth_field(rng, 30, 60);
  double consolidation_limit = -1e9;
  if (consolidation_lobe != kNoLobe) {
    std::vector<const PlanPoint*> candidates;
    for (const auto& q : lung)
      if (q.lobe == consolidation_lobe && outside_effusion(q.p, q.side)) candidates.push_back(&q);
    if (candidates.size() < 4) {
      consolidation.assign(T, 0);
    } else {
      plan.consolidation_centre = candidates[rng() % candidates.size()]->p;
      std::vector<double> keys;
      for (const auto* q : candidates) keys.push_back(consolidation_key(plan, q->p));
      plan.consolidation_max_ml = cap(consolidation, 0.5 * static_cast<double>(keys.size()) * voxel_ml);
      consolidation_limit = key_at_volume(keys, plan.consolidation_max_ml) + 12;
    }
  }
  if (plan.consolidation_max_ml <= 0) consolidation_lobe = kNoLobe;

  // Nodules: the ball of the largest diameter plus 4 mm lies in one lobe, clear of the other
  // findings and of each other; a nodule that finds no such place after 200 tries is dropped.
  std::vector<Point> directions{{0, 0, 0}};
  for (int dx = -1; dx <= 1; ++dx)
    for (int dy = -1; dy <= 1; ++dy)
      for (int dz = -1; dz <= 1; ++dz) {
        const double n = std::sqrt(double(dx * dx + dy * dy + dz * dz));
        if (n > 0) directions.push_back({dx / n, dy / n, dz / n});
      }
  std::vector<std::size_t> kept;
  for (std::size_t n = 0; n < diameters.size(); ++n) {
    const double r = 0.5 * *std::max_element(diameters[n].begin(), diameters[n].end()) + 4;
    std::vector<const PlanPoint*> candidates;
    for (const auto& q : lung)
      if (q.lobe == lobes[n]) candidates.push_back(&q);
    for (int attempt = 0; attempt < 200 && !candidates.empty(); ++attempt) {
      const PlanPoint& q = *candidates[rng() % candidates.size()];
      const Point c{q.p[0] + uniform(rng, -4.5, 4.5), q.p[1] + uniform(rng, -4.5, 4.5), q.p[2] + uniform(rng, -4.5, 4.5)};
      bool fits = true;
      for (const auto& other : plan.nodules)
        fits = fits && std::sqrt(std::pow(c[0] - other.centre[0], 2) + std::pow(c[1] - other.centre[1], 2) +
                                 std::pow(c[2] - other.centre[2], 2)) > r + 0.5 * other.diameter_mm + 6;
      for (std::size_t d = 0; d < directions.size() && fits; ++d) {
        const Point s{c[0] + r * directions[d][0], c[1] + r * directions[d][1], c[2] + r * directions[d][2]};
        const PointInfo info = a.classify(s, plan.heart_scale_max, 1);
        fits = info.tissue == ChestTissue::lung && info.lobe == lobes[n] && outside_effusion(s, info.side) &&
               (consolidation_lobe == kNoLobe || consolidation_key(plan, s) > consolidation_limit);
      }
      if (!fits) continue;
      ChestNodule nodule;
      nodule.id = static_cast<int>(plan.nodules.size()) + 1;
      nodule.lobe = lobes[n];
      nodule.centre = c;
      nodule.diameter_mm = 2 * (r - 4);
      plan.nodules.push_back(nodule);
      kept.push_back(n);
      break;
    }
  }

  for (std::size_t t = 0; t < T; ++t) {
    ChestFindings& f = plan.timeline[t];
    for (std::size_t k = 0; k < kept.size(); ++k)
      if (diameters[kept[k]][t] > 0) {
        ChestNodule nodule = plan.nodules[k];
        nodule.diameter_mm = diameters[kept[k]][t];
        f.nodules.push_back(nodule);
      }
    for (std::size_t side = 0; side < 2; ++side) {
      f.effusion_ml[side] = effusion[side][t];
      f.meniscus_mm[side] = effusion[side][t] > 0 ? meniscus[side] : 0;
    }
    f.consolidation_ml = consolidation_lobe == kNoLobe ? 0 : consolidation[t];
    f.consolidation_lobe = f.consolidation_ml > 0 ? consolidation_lobe : kNoLobe;
    f.air_bronchograms = f.consolidation_ml > 0 && bronchograms;
    f.ctr = ctr[t];
    f.emphysema_percent = emphysema[t];
  }
  return plan;
}

}  // namespace whatif::data

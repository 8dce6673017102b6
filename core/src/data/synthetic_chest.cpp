// Renders the synthetic chest: classifies every voxel of a grid against the analytic anatomy,
// lays the findings of each time point into the lungs, and writes HU (ct) or a DRR (cxr).
#include "whatif/data/synthetic_chest.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "data/chest_anatomy.hpp"
#include "data/chest_findings.hpp"
#include "data/chest_reports.hpp"
#include "whatif/data/drr.hpp"
#include "whatif/registry/error.hpp"

namespace whatif::data {
namespace {

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Independent random streams per (seed, subject, purpose, time).
enum Stream : std::uint64_t { kAnatomy = 1, kFindings = 2, kNoise = 3, kReport = 4, kInterpretation = 5, kDetector = 6 };
std::uint64_t stream(std::uint64_t seed, std::int64_t subject, std::uint64_t purpose, int time = 0) {
  return splitmix(splitmix(splitmix(seed ^ 0xC4E57ull) ^ static_cast<std::uint64_t>(subject)) ^ (purpose * 16 + static_cast<std::uint64_t>(time)));
}

struct Grid {
  std::int64_t nx, ny, nz;
  double hx, hy, hz;
  std::int64_t count() const { return nx * ny * nz; }
  Point point(std::int64_t i, std::int64_t j, std::int64_t k) const {
    return {(double(i) - 0.5 * double(nx - 1)) * hx, (double(j) - 0.5 * double(ny - 1)) * hy,
            (double(k) - 0.5 * double(nz - 1)) * hz};
  }
  Point point(std::int64_t index) const { return point(index % nx, (index / nx) % ny, index / (nx * ny)); }
  double voxel_ml() const { return hx * hy * hz / 1000; }
};

struct Voxel {
  ChestTissue tissue = ChestTissue::air;
  std::int8_t side = -1;
  std::uint8_t lobe = 0;
  float vessel = 0, bronchus = 0, fissure = 0;
};

Voxel voxel_of(const PointInfo& info) {
  return {info.tissue, static_cast<std::int8_t>(info.side), static_cast<std::uint8_t>(info.lobe),
          static_cast<float>(info.vessel), static_cast<float>(info.bronchus), static_cast<float>(info.fissure)};
}

// Candidate voxels sorted by (key, index): the first n of them are the region of n voxels.
std::vector<std::int64_t> fill_order(const Grid& g, const std::vector<std::int64_t>& candidates,
                                     const std::function<double(const Point&)>& key) {
  std::vector<std::pair<double, std::int64_t>> keyed;
  keyed.reserve(candidates.size());
  for (auto index : candidates) keyed.emplace_back(key(g.point(index)), index);
  std::sort(keyed.begin(), keyed.end());
  std::vector<std::int64_t> order;
  order.reserve(keyed.size());
  for (const auto& [k, index] : keyed) order.push_back(index);
  return order;
}

std::size_t voxels_for(double ml, const Grid& g, std::size_t available) {
  return std::min(available, static_cast<std::size_t>(std::llround(std::max(0.0, ml) / g.voxel_ml())));
}

bool heart_tissue(ChestTissue t) {
  return t == ChestTissue::fat || t == ChestTissue::myocardium || t == ChestTissue::blood;
}

struct Frame {  // one rendered time point
  std::vector<float> hu;
  std::vector<std::uint8_t> label, tissue;
};

// Renders the requested time points (`only` < 0: all) of one subject on `g`, calling `emit`.
void render(const ChestAnatomy& a, const ChestPlan& plan, const Grid& g, int only,
            const std::function<void(int, Frame&)>& emit) {
  const std::int64_t n = g.count();
  const double h = std::cbrt(g.hx * g.hy * g.hz);
  std::vector<Voxel> base(static_cast<std::size_t>(n));
  std::vector<std::uint8_t> heart_region(static_cast<std::size_t>(n));
  at::parallel_for(0, g.nz, 1, [&](std::int64_t k0, std::int64_t k1) {
    for (std::int64_t index = k0 * g.nx * g.ny; index < k1 * g.nx * g.ny; ++index) {
      const Point p = g.point(index);
      base[static_cast<std::size_t>(index)] = voxel_of(a.classify(p, plan.heart_scale_max, h));
      heart_region[static_cast<std::size_t>(index)] = a.in_heart(p, plan.heart_scale_max);
    }
  });

  // Regions at their largest, which the later findings keep clear of.
  std::vector<std::uint8_t> taken(static_cast<std::size_t>(n), 0);
  const auto eligible = [&](std::int64_t i) {
    return base[static_cast<std::size_t>(i)].tissue == ChestTissue::lung && !taken[static_cast<std::size_t>(i)];
  };
  std::array<std::vector<std::int64_t>, 2> effusion;
  for (int side = 0; side < 2; ++side) {
    if (plan.effusion_max_ml[static_cast<std::size_t>(side)] <= 0) continue;
    std::vector<std::int64_t> candidates;
    for (std::int64_t i = 0; i < n; ++i)
      if (eligible(i) && base[static_cast<std::size_t>(i)].side == side) candidates.push_back(i);
    const double meniscus = plan.meniscus_mm[static_cast<std::size_t>(side)];
    effusion[static_cast<std::size_t>(side)] =
        fill_order(g, candidates, [&](const Point& p) { return effusion_key(a, p, meniscus); });
    const std::size_t most = voxels_for(plan.effusion_max_ml[static_cast<std::size_t>(side)], g, candidates.size());
    for (std::size_t m = 0; m < most; ++m) taken[static_cast<std::size_t>(effusion[static_cast<std::size_t>(side)][m])] = 1;
  }
  int consolidation_lobe = kNoLobe;
  for (const auto& f : plan.timeline) consolidation_lobe = std::max(consolidation_lobe, f.consolidation_lobe);
  std::vector<std::int64_t> consolidation;
  if (consolidation_lobe != kNoLobe) {
    std::vector<std::int64_t> candidates;
    for (std::int64_t i = 0; i < n; ++i)
      if (eligible(i) && base[static_cast<std::size_t>(i)].lobe == consolidation_lobe) candidates.push_back(i);
    consolidation = fill_order(g, candidates, [&](const Point& p) { return consolidation_key(plan, p); });
    const std::size_t most = voxels_for(plan.consolidation_max_ml, g, candidates.size());
    for (std::size_t m = 0; m < most; ++m) taken[static_cast<std::size_t>(consolidation[m])] = 1;
  }
  std::vector<std::vector<std::pair<double, std::int64_t>>> nodules;  // (distance to centre, voxel)
  for (const auto& nodule : plan.nodules) {
    std::vector<std::pair<double, std::int64_t>> ball;
    const double r = 0.5 * nodule.diameter_mm;
    const auto range = [&](double c, double step, std::int64_t size) {
      const double mid = 0.5 * double(size - 1);
      return std::make_pair(std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor((c - r) / step + mid))),
                            std::min<std::int64_t>(size - 1, static_cast<std::int64_t>(std::ceil((c + r) / step + mid))));
    };
    const auto [i0, i1] = range(nodule.centre[0], g.hx, g.nx);
    const auto [j0, j1] = range(nodule.centre[1], g.hy, g.ny);
    const auto [k0, k1] = range(nodule.centre[2], g.hz, g.nz);
    for (std::int64_t k = k0; k <= k1; ++k)
      for (std::int64_t j = j0; j <= j1; ++j)
        for (std::int64_t i = i0; i <= i1; ++i) {
          const Point p = g.point(i, j, k);
          const double d = std::sqrt(std::pow(p[0] - nodule.centre[0], 2) + std::pow(p[1] - nodule.centre[1], 2) +
                                     std::pow(p[2] - nodule.centre[2], 2));
          const std::int64_t index = (k * g.ny + j) * g.nx + i;
          if (d <= r && eligible(index)) ball.emplace_back(d, index);
        }
    for (const auto& [d, index] : ball) taken[static_cast<std::size_t>(index)] = 1;
    nodules.push_back(std::move(ball));
  }
  std::vector<std::int64_t> emphysema;
  {
    std::vector<std::int64_t> candidates;
    for (std::int64_t i = 0; i < n; ++i) {
      const Voxel& v = base[static_cast<std::size_t>(i)];
      if (eligible(i) && v.vessel == 0 && v.fissure == 0) candidates.push_back(i);
    }
    emphysema = fill_order(g, candidates, [&](const Point& p) { return emphysema_key(plan, p); });
  }

  for (int t = 0; t < static_cast<int>(plan.timeline.size()); ++t) {
    if (only >= 0 && t != only) continue;
    const ChestFindings& f = plan.timeline[static_cast<std::size_t>(t)];
    const double scale = plan.heart_scale[static_cast<std::size_t>(t)];
    std::vector<Voxel> voxels = base;
    if (scale != plan.heart_scale_max)
      at::parallel_for(0, g.nz, 1, [&](std::int64_t k0, std::int64_t k1) {
        for (std::int64_t index = k0 * g.nx * g.ny; index < k1 * g.nx * g.ny; ++index)
          if (heart_region[static_cast<std::size_t>(index)])
            voxels[static_cast<std::size_t>(index)] = voxel_of(a.classify(g.point(index), scale, h));
      });
    Frame frame;
    frame.label.assign(static_cast<std::size_t>(n), 0);
    auto& label = frame.label;
    for (int side = 0; side < 2; ++side) {
      const auto& order = effusion[static_cast<std::size_t>(side)];
      const std::size_t count = voxels_for(f.effusion_ml[static_cast<std::size_t>(side)], g, order.size());
      for (std::size_t m = 0; m < count; ++m) label[static_cast<std::size_t>(order[m])] = kEffusionLabel;
    }
    const std::size_t consolidated = voxels_for(f.consolidation_ml, g, consolidation.size());
    for (std::size_t m = 0; m < consolidated; ++m) label[static_cast<std::size_t>(consolidation[m])] = kConsolidationLabel;
    for (const auto& present : f.nodules)
      for (std::size_t q = 0; q < plan.nodules.size(); ++q)
        if (plan.nodules[q].id == present.id)
          for (const auto& [d, index] : nodules[q])
            if (d <= 0.5 * present.diameter_mm) label[static_cast<std::size_t>(index)] = kNoduleLabel;
    std::int64_t aerated = 0;
    for (std::int64_t i = 0; i < n; ++i)
      aerated += voxels[static_cast<std::size_t>(i)].tissue == ChestTissue::lung && label[static_cast<std::size_t>(i)] == 0;
    const auto emphysematous = std::min(emphysema.size(), static_cast<std::size_t>(std::llround(
                                                              f.emphysema_percent / 100 * static_cast<double>(aerated))));
    for (std::size_t m = 0; m < emphysematous; ++m) label[static_cast<std::size_t>(emphysema[m])] = kEmphysemaLabel;
    if (f.cardiomegaly())
      for (std::int64_t i = 0; i < n; ++i)
        if (heart_region[static_cast<std::size_t>(i)] && heart_tissue(voxels[static_cast<std::size_t>(i)].tissue) &&
            a.in_heart(g.point(i), scale))
          label[static_cast<std::size_t>(i)] = kCardiomegalyLabel;

    frame.hu.resize(static_cast<std::size_t>(n));
    frame.tissue.resize(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) {
      const Voxel& v = voxels[static_cast<std::size_t>(i)];
      const auto s = static_cast<std::size_t>(i);
      frame.tissue[s] = static_cast<std::uint8_t>(v.tissue);
      float hu = tissue_hu(v.tissue);
      if (label[s] == kNoduleLabel) hu = kNoduleHu;
      else if (label[s] == kEffusionLabel) hu = kEffusionHu;
      else if (label[s] == kConsolidationLabel)
        hu = f.air_bronchograms && v.bronchus >= 0.5f ? tissue_hu(ChestTissue::airway) : kConsolidationHu;
      else if (v.tissue == ChestTissue::lung) {
        const float b = label[s] == kEmphysemaLabel ? kEmphysemaHu : tissue_hu(ChestTissue::lung);
        hu = b + v.vessel * (tissue_hu(ChestTissue::blood) - b);
        hu += v.fissure * (tissue_hu(ChestTissue::muscle) - hu);
      }
      frame.hu[s] = hu;
    }
    emit(t, frame);
  }
}

// Along the beam (H), the most telling finding on each ray.
at::Tensor project_labels(const std::vector<std::uint8_t>& label, const Grid& g) {
  static constexpr int kPriority[6] = {0, 5, 3, 4, 1, 2};  // by label: nodule > consolidation > effusion > heart > emphysema
  at::Tensor out = at::zeros({g.nz, g.nx}, at::kByte);
  auto* o = out.data_ptr<std::uint8_t>();
  for (std::int64_t k = 0; k < g.nz; ++k)
    for (std::int64_t j = 0; j < g.ny; ++j)
      for (std::int64_t i = 0; i < g.nx; ++i) {
        const std::uint8_t l = label[static_cast<std::size_t>((k * g.ny + j) * g.nx + i)];
        std::uint8_t& cell = o[k * g.nx + i];
        if (kPriority[l] > kPriority[cell]) cell = l;
      }
  return out;
}

}  // namespace

float tissue_hu(ChestTissue tissue) {
  static constexpr float kHu[] = {-1000, -100, 40, -850, -1000, 50, 40, 55, 400, 1000, 10, 80};
  return kHu[static_cast<int>(tissue)];
}

const char* tissue_name(ChestTissue tissue) {
  static const char* kNames[] = {"air", "fat", "muscle", "lung", "airway", "blood", "myocardium", "abdomen",
                                 "trabecular bone", "cortical bone", "CSF", "intervertebral disc"};
  return kNames[static_cast<int>(tissue)];
}

const char* lobe_name(int lobe) {
  static const char* kNames[] = {"", "right upper lobe", "right middle lobe", "right lower lobe", "left upper lobe",
                                 "left lower lobe"};
  return lobe >= 1 && lobe <= 5 ? kNames[lobe] : "";
}

std::map<std::string, double> ChestFindings::attributes() const {
  std::map<std::string, double> a{{"time", time},
                                  {"months", months},
                                  {"nodule_count", static_cast<double>(nodules.size())},
                                  {"effusion_right_ml", effusion_ml[0]},
                                  {"effusion_left_ml", effusion_ml[1]},
                                  {"consolidation_ml", consolidation_ml},
                                  {"consolidation_lobe", consolidation_lobe},
                                  {"air_bronchograms", air_bronchograms ? 1.0 : 0.0},
                                  {"ctr", ctr},
                                  {"cardiomegaly", cardiomegaly() ? 1.0 : 0.0},
                                  {"emphysema_percent", emphysema_percent}};
  for (int id = 1; id <= SyntheticChest::kMaxNodules; ++id) {
    const std::string stem = "nodule_" + std::to_string(id);
    a[stem + "_diameter_mm"] = 0;
    a[stem + "_lobe"] = 0;
    for (const auto& n : nodules)
      if (n.id == id) a[stem + "_diameter_mm"] = n.diameter_mm, a[stem + "_lobe"] = n.lobe;
  }
  return a;
}

SyntheticChest::SyntheticChest(ChestOptions options) : options_(std::move(options)) {
  if (options_.size < 32 || options_.size > 128)
    throw Error("synthetic-chest: size " + std::to_string(options_.size) + ": expected 32 to 128");
  if (options_.modality != "ct" && options_.modality != "cxr")
    throw Error("synthetic-chest: modality '" + options_.modality + "': expected ct or cxr");
  if (options_.followups < 1 || options_.followups > 4)
    throw Error("synthetic-chest: followups " + std::to_string(options_.followups) + ": expected 1 to 4");
  if (!(options_.fov_mm >= 340 && options_.fov_mm <= 480))
    throw Error("synthetic-chest: fov " + std::to_string(options_.fov_mm) + " mm: expected 340 to 480");
}

std::string SyntheticChest::units() const { return options_.modality == "ct" ? "HU" : "-ln(I/I0)"; }

Geometry SyntheticChest::geometry() const {
  Geometry g;
  if (options_.modality == "ct") {
    const double h = options_.fov_mm / double(options_.size), half = 0.5 * h * double(options_.size - 1);
    g.spacing = {h, h, h};
    g.direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};  // index axes run to the right, anterior, superior
    g.origin = {half, half, -half};
  } else {
    const double h = options_.fov_mm / double(2 * options_.size), half = 0.5 * h * double(2 * options_.size - 1);
    g.spacing = {h, h, 1};
    g.origin = {-half, -half, 0};
  }
  return g;
}

std::vector<ChestFindings> SyntheticChest::findings(std::int64_t subject) const {
  std::mt19937_64 anatomy_rng(stream(options_.seed, subject, kAnatomy));
  const ChestAnatomy anatomy = make_chest_anatomy(anatomy_rng);
  std::mt19937_64 rng(stream(options_.seed, subject, kFindings));
  const double h = options_.fov_mm / double(options_.size);
  return plan_chest(anatomy, rng, timepoints(), std::max(4.0, 1.5 * h)).timeline;
}

std::vector<ChestScan> SyntheticChest::subject(std::int64_t subject) const { return generate(subject, -1); }

ChestScan SyntheticChest::scan(std::int64_t subject, int time) const {
  if (time < 0 || time >= timepoints())
    throw Error("synthetic-chest: time " + std::to_string(time) + " is out of range (0.." +
                std::to_string(timepoints() - 1) + ")");
  return std::move(generate(subject, time).front());
}

std::vector<ChestScan> SyntheticChest::generate(std::int64_t subject, int only) const {
  if (subject < 0) throw Error("synthetic-chest: subject index must be non-negative");
  std::mt19937_64 anatomy_rng(stream(options_.seed, subject, kAnatomy));
  const ChestAnatomy anatomy = make_chest_anatomy(anatomy_rng);
  std::mt19937_64 findings_rng(stream(options_.seed, subject, kFindings));
  const std::int64_t S = options_.size;
  const double h = options_.fov_mm / double(S);
  const ChestPlan plan = plan_chest(anatomy, findings_rng, timepoints(), std::max(4.0, 1.5 * h));
  const bool ct = options_.modality == "ct";
  const Grid grid = ct ? Grid{S, S, S, h, h, h} : Grid{2 * S, S, 2 * S, 0.5 * h, h, 0.5 * h};
  char id[32];
  std::snprintf(id, sizeof id, "sub-%05lld", static_cast<long long>(subject));
  const Geometry geometry = this->geometry();

  std::vector<float> noise;
  if (ct) {
    std::mt19937_64 rng(stream(options_.seed, subject, kNoise));
    noise.resize(static_cast<std::size_t>(grid.count()));
    for (auto& v : noise) v = static_cast<float>(anatomy.noise_hu * standard_normal(rng));
  }
  std::vector<ChestScan> scans;
  render(anatomy, plan, grid, only, [&](int t, Frame& frame) {
    ChestScan scan;
    scan.findings = plan.timeline[static_cast<std::size_t>(t)];
    Example& e = scan.example;
    if (ct) {
      for (std::size_t i = 0; i < frame.hu.size(); ++i) frame.hu[i] += noise[i];
      e.image = at::from_blob(frame.hu.data(), {1, S, S, S}, at::kFloat).clone();
      e.mask = at::from_blob(frame.label.data(), {1, S, S, S}, at::kByte).clone();
      scan.tissue = at::from_blob(frame.tissue.data(), {S, S, S}, at::kByte).clone();
    } else {
      const at::Tensor hu = at::from_blob(frame.hu.data(), {grid.nz, grid.ny, grid.nx}, at::kFloat);
      DrrOptions drr;
      drr.seed = stream(options_.seed, subject, kDetector);
      // Columns run from the patient's right to left, rows from feet to head (PA view).
      e.image = drr_projection(hu, grid.hy, drr).flip(1).unsqueeze(0).contiguous();
      e.mask = project_labels(frame.label, grid).flip(1).unsqueeze(0).contiguous();
    }
    e.subject = id;
    e.attributes = scan.findings.attributes();
    set_geometry(e, geometry);
    std::mt19937_64 words(stream(options_.seed, subject, kReport, t));
    e.text = chest_report(scan.findings, words);
    if (t == 0) {
      scan.prompt = chest_impression(scan.findings);
    } else {
      std::mt19937_64 change(stream(options_.seed, subject, kInterpretation, t));
      scan.prompt = chest_interpretation(plan.timeline.front(), scan.findings, change);
      scan.change = chest_change_prompt(plan.timeline.front(), scan.findings);
    }
    scans.push_back(std::move(scan));
  });
  return scans;
}

std::vector<std::pair<std::int64_t, std::int64_t>> SyntheticChest::pairs(std::int64_t subjects, int timepoints) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  for (std::int64_t s = 0; s < subjects; ++s)
    for (int t = 1; t < timepoints; ++t) out.emplace_back(s * timepoints, s * timepoints + t);
  return out;
}

}  // namespace whatif::data

// Subjects are smooth random deformations of the Colin27 anatomy; twins differ only in the
// studied finding. The sampling map of a subject is analytic (scale + a few sine waves), so any
// output voxel — a whole cube or one axial plane — is generated without building the others.
#include "whatif/data/synthetic_brain.hpp"

#include <cmath>
#include <random>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "data/brain_atlas.hpp"
#include "data/brain_reports.hpp"
#include "whatif/registry/error.hpp"

namespace whatif::data {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr float kWhiteMatterT1 = 0.78f;  // T1 / brain p99 above which unlabelled tissue is white matter
constexpr double kPeriventricularMm = 10.0;

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Independent random streams per (seed, subject, purpose), so twins share what they must.
enum Stream : std::uint64_t { kAnatomy = 1, kLesions = 2, kNoise = 3, kReport = 4 };
std::uint64_t stream(std::uint64_t seed, std::int64_t subject, std::uint64_t purpose, int level = 0) {
  return splitmix(splitmix(splitmix(seed) ^ static_cast<std::uint64_t>(subject)) ^ (purpose * 16 + level));
}

double uniform(std::mt19937_64& rng, double lo, double hi) {
  return lo + (hi - lo) * (static_cast<double>(rng() >> 11) * 0x1.0p-53);
}
double normal(std::mt19937_64& rng) {  // Box–Muller from explicit draws: same on every platform
  const double u = uniform(rng, 1e-12, 1.0), v = uniform(rng, 0.0, 1.0);
  return std::sqrt(-2.0 * std::log(u)) * std::cos(2.0 * kPi * v);
}

struct Wave {
  std::array<double, 3> k{};    // cycles per voxel
  std::array<double, 3> amp{};  // voxels (deformation) or log-intensity (bias, amp[0])
  double phase = 0;
};

Wave random_wave(std::mt19937_64& rng, double wavelength_voxels, double amplitude, bool vector) {
  Wave w;
  std::array<double, 3> d{normal(rng), normal(rng), normal(rng)};
  const double norm = std::sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]) + 1e-12;
  for (int a = 0; a < 3; ++a) w.k[a] = d[a] / norm / wavelength_voxels;
  for (int a = 0; a < 3; ++a) w.amp[a] = vector || a == 0 ? amplitude * normal(rng) : 0.0;
  w.phase = uniform(rng, 0, 2 * kPi);
  return w;
}

at::Tensor wave_phase(const at::Tensor& coords, const Wave& w) {
  return 2 * kPi * (coords.select(-1, 0) * w.k[0] + coords.select(-1, 1) * w.k[1] +
                    coords.select(-1, 2) * w.k[2]) + w.phase;
}

struct Sample {
  at::Tensor t1, ventricle_distance, aal, jhu, ventricles, brain;  // [Do, S, S]
  at::Tensor hippocampus_field, ventricle_field;  // [Do, S, S, 4]: signed distance (mm), ∇ along i, j, k
};

struct Lesion {
  at::Tensor voxels;  // flat indices into the output grid
  float factor = 1;   // T1 multiplier inside the lesion
  bool periventricular = false;
};

}  // namespace

struct BrainAnatomy {
  at::Tensor coords;  // [Do, S, S, 3] output voxel coordinates (i, j, k) on the atlas grid
  double scale = 1;
  std::vector<Wave> warp, bias;
  double gamma = 1, noise = 0;
  std::array<double, 2> strength_jitter{1, 1};  // AD: hippocampi, ventricles
  Sample base;
};

namespace {

const std::array<std::string, 3> kMsNames{"minimal", "moderate", "high"};
const std::array<std::string, 3> kAdNames{"normal", "MCI", "dementia"};

std::array<double, 3> centre_of(const BrainAtlas& atlas) {
  const double c = 0.5 * static_cast<double>(atlas.size - 1);
  return {c, c, c};
}

// Subject map: output voxel q ↦ atlas voxel c + (q − c)/scale + Σ waves.
at::Tensor subject_map(const BrainAtlas& atlas, const BrainAnatomy&, const at::Tensor& q);

}  // namespace

SyntheticBrain::SyntheticBrain(BrainOptions options) : options_(std::move(options)) {
  if (options_.task != "ms" && options_.task != "ad")
    throw Error("synthetic-brain: task '" + options_.task + "': expected ms or ad");
  if (options_.size != 32 && options_.size != 64 && options_.size != 128)
    throw Error("synthetic-brain: size " + std::to_string(options_.size) + ": expected 32, 64 or 128");
  if (options_.dims != 2 && options_.dims != 3)
    throw Error("synthetic-brain: dims " + std::to_string(options_.dims) + ": expected 2 or 3");
  atlas_ = load_brain_atlas(options_.templates, options_.size);
}

SyntheticBrain::~SyntheticBrain() = default;

const std::array<std::string, SyntheticBrain::kLevels>& SyntheticBrain::level_names() const {
  return options_.task == "ms" ? kMsNames : kAdNames;
}

namespace {

// The axial plane of the 2D mode: through the ventricles (ms) or the hippocampi (ad).
std::int64_t slice_index(const BrainAtlas& atlas, const std::string& task) {
  const double k = task == "ms" ? atlas.ventricles.centre[2]
                                : 0.5 * (atlas.hippocampus[0].centre[2] + atlas.hippocampus[1].centre[2]);
  return std::llround(k);
}

at::Tensor subject_map(const BrainAtlas& atlas, const BrainAnatomy& anatomy, const at::Tensor& q) {
  const auto c = centre_of(atlas);
  at::Tensor p = (q - at::tensor({c[0], c[1], c[2]}, at::kDouble).to(q.dtype())) / anatomy.scale +
                 at::tensor({c[0], c[1], c[2]}, at::kDouble).to(q.dtype());
  for (const auto& w : anatomy.warp)
    p = p + at::sin(wave_phase(q, w)).unsqueeze(-1) * at::tensor({w.amp[0], w.amp[1], w.amp[2]}, q.dtype());
  return p;
}

Sample sample_atlas(const BrainAtlas& atlas, const at::Tensor& atlas_coords) {
  const double s = static_cast<double>(atlas.size - 1);
  const at::Tensor grid = (atlas_coords * (2.0 / s) - 1.0).to(at::kFloat).unsqueeze(0);
  // grid_sampler modes: 0 bilinear, 1 nearest; padding 0 = zeros; align_corners: voxel centres.
  const at::Tensor lin = at::grid_sampler(atlas.linear, grid, 0, 0, true)[0];
  const at::Tensor near = at::grid_sampler(atlas.nearest, grid, 1, 0, true)[0];
  Sample out;
  out.t1 = lin[0];
  out.ventricle_distance = lin[1];
  out.hippocampus_field = lin.slice(0, 2, 6).permute({1, 2, 3, 0});
  out.ventricle_field = lin.slice(0, 6, 10).permute({1, 2, 3, 0});
  out.aal = near[0];
  out.jhu = near[1];
  out.ventricles = near[2] > 0.5;
  out.brain = near[3] > 0.5;
  return out;
}

// Grey-level pipeline, pointwise so twins stay identical wherever their anatomy is: contrast
// (gamma), multiplicative bias field, Rician noise.
at::Tensor render(const BrainAnatomy& anatomy, const at::Tensor& t1, const at::Tensor& brain,
                  const at::Tensor& noise) {
  at::Tensor v = at::where(brain, t1.clamp_min(0), at::zeros_like(t1)).pow(anatomy.gamma);
  at::Tensor log_bias = at::zeros_like(v);
  for (const auto& w : anatomy.bias) log_bias += w.amp[0] * at::sin(wave_phase(anatomy.coords, w)).to(at::kFloat);
  v = v * at::exp(log_bias);
  return at::sqrt((v + anatomy.noise * noise[0]).square() + (anatomy.noise * noise[1]).square());
}

at::Tensor brain_noise(std::uint64_t seed, const at::IntArrayRef shape) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  std::vector<std::int64_t> s{2};
  s.insert(s.end(), shape.begin(), shape.end());
  return at::randn(s, generator, at::kFloat);
}

// AD displacement in output voxels: every boundary point of a structure moves along its normal
// ∇D by m·w(D), w(D) = (1 − (D/R)²)² for |D| < R (zero beyond: the support is a shell of width R
// around the structure). The output samples outward (+) to shrink the hippocampi and inward (−)
// to enlarge the ventricles. The 1D map D ↦ D ± m·w(D) stays monotone while m·max|w′| < 1,
// i.e. m < R / 1.54 (true for every size and jitter below).
std::pair<at::Tensor, at::Tensor> ad_displacement(const BrainAnatomy& anatomy, double h, int level) {
  // Strength in units of max(h, 1.5 mm): at 128³ the dementia twin's hippocampal boundary recedes
  // ~2.4 mm; at 32³ every step moves boundaries by most of a voxel, so the levels stay apart.
  static constexpr double kHippocampus[] = {0.0, 0.8, 1.6};
  static constexpr double kVentricles[] = {0.0, -0.85, -1.6};
  const double unit = std::max(h, 1.5);
  const double reach = std::max(8.0, 3.0 * h);
  at::Tensor u = at::zeros_like(anatomy.coords);
  at::Tensor support = at::zeros(anatomy.coords.sizes().slice(0, 3), at::kBool);
  const at::Tensor* fields[2] = {&anatomy.base.hippocampus_field, &anatomy.base.ventricle_field};
  for (int r = 0; r < 2; ++r) {
    const double m = (r == 0 ? kHippocampus[level] : kVentricles[level]) * unit * anatomy.strength_jitter[r];
    const at::Tensor distance = fields[r]->select(-1, 0).to(at::kDouble);
    const at::Tensor normal = fields[r]->slice(-1, 1, 4).to(at::kDouble);
    const at::Tensor inside = distance.abs() < reach;
    const at::Tensor weight = at::where(inside, (1 - (distance / reach).square()).square(), at::zeros_like(distance));
    if (m != 0) u = u + (m / h) * weight.unsqueeze(-1) * normal;
    support = support | inside;
  }
  return {u, support};
}

std::vector<Lesion> place_lesions(const BrainAtlas& atlas, const BrainAnatomy& anatomy,
                                  const at::Tensor& white_matter, std::mt19937_64& rng, int count) {
  const double h = atlas.geometry.spacing[0];
  const at::Tensor wm_flat = white_matter.flatten();
  const at::Tensor candidates = at::nonzero(wm_flat).squeeze(1);
  if (candidates.numel() == 0) return {};
  // Periventricular weighting: lesions favour white matter next to the ventricles.
  const at::Tensor distance = anatomy.base.ventricle_distance.flatten().index({candidates}).to(at::kDouble);
  const at::Tensor cumulative = (0.05 + 4.0 * at::exp(-distance / 8.0)).cumsum(0).contiguous();
  const double total = cumulative[-1].item<double>();
  const auto* cum = cumulative.data_ptr<double>();
  const auto n = candidates.numel();
  const std::int64_t depth = white_matter.size(0), rows = white_matter.size(1), cols = white_matter.size(2);
  const at::Tensor flat_index = at::arange(white_matter.numel(), at::kLong).view(white_matter.sizes());
  std::vector<Lesion> lesions;
  for (int l = 0; l < count; ++l) {
    const double u = uniform(rng, 0, total);
    const std::int64_t pick = std::min<std::int64_t>(std::lower_bound(cum, cum + n, u) - cum, n - 1);
    const std::int64_t centre = candidates[pick].item<std::int64_t>();
    const std::int64_t d0 = centre / (rows * cols), j0 = (centre / cols) % rows, i0 = centre % cols;
    // Semi-axes log-uniform in 2–7 mm, never below 0.6 voxel so each lesion shows; random rotation
    // from a uniform unit quaternion.
    std::array<double, 3> semi;
    for (auto& s : semi) s = std::max(0.6 * h, std::exp(uniform(rng, std::log(2.0), std::log(7.0))));
    double qw = normal(rng), qx = normal(rng), qy = normal(rng), qz = normal(rng);
    const double qn = std::sqrt(qw * qw + qx * qx + qy * qy + qz * qz) + 1e-12;
    qw /= qn, qx /= qn, qy /= qn, qz /= qn;
    const double R[3][3] = {{1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy - qz * qw), 2 * (qx * qz + qy * qw)},
                            {2 * (qx * qy + qz * qw), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz - qx * qw)},
                            {2 * (qx * qz - qy * qw), 2 * (qy * qz + qx * qw), 1 - 2 * (qx * qx + qy * qy)}};
    Lesion lesion;
    lesion.factor = static_cast<float>(uniform(rng, 0.4, 0.7));
    lesion.periventricular =
        anatomy.base.ventricle_distance.flatten()[centre].item<double>() < std::max(kPeriventricularMm, 1.5 * h);
    const auto reach = static_cast<std::int64_t>(std::ceil(*std::max_element(semi.begin(), semi.end()) / h)) + 1;
    using at::indexing::Slice;
    const auto box = [&](std::int64_t c, std::int64_t extent) {
      return Slice(std::max<std::int64_t>(0, c - reach), std::min(extent, c + reach + 1));
    };
    const std::vector<at::indexing::TensorIndex> region{box(d0, depth), box(j0, rows), box(i0, cols)};
    const at::Tensor coords = anatomy.coords.index(region);
    const at::Tensor d = (coords - anatomy.coords[d0][j0][i0]) * h;  // mm, axes (i, j, k)
    at::Tensor rho2 = at::zeros(coords.sizes().slice(0, 3), at::kDouble);
    for (int a = 0; a < 3; ++a) {
      const at::Tensor along = d.select(-1, 0) * R[0][a] + d.select(-1, 1) * R[1][a] + d.select(-1, 2) * R[2][a];
      rho2 += (along / semi[a]).square();
    }
    const at::Tensor inside = (rho2 <= 1) & white_matter.index(region);
    lesion.voxels = flat_index.index(region).index({inside});
    lesions.push_back(std::move(lesion));
  }
  return lesions;
}

}  // namespace

std::string SyntheticBrain::units() const {
  return "T1-weighted intensity / the brain's 99th percentile (Colin27), about 0..1.2";
}

Geometry SyntheticBrain::geometry() const {
  Geometry g = atlas_->geometry;
  if (options_.dims == 2)
    g.origin = g.index_to_point({0, 0, static_cast<double>(slice_index(*atlas_, options_.task))});
  return g;
}

BrainAnatomy SyntheticBrain::anatomy(std::int64_t subject) const {
  if (subject < 0) throw Error("synthetic-brain: subject index must be non-negative");
  const BrainAtlas& atlas = *atlas_;
  const double h = atlas.geometry.spacing[0];
  const std::int64_t s = atlas.size;
  BrainAnatomy a;
  const at::Tensor i = at::arange(s, at::kDouble);
  if (options_.dims == 3) {
    a.coords = at::stack({i.view({1, 1, s}).expand({s, s, s}), i.view({1, s, 1}).expand({s, s, s}),
                          i.view({s, 1, 1}).expand({s, s, s})}, -1);
  } else {
    const double k = static_cast<double>(slice_index(atlas, options_.task));
    a.coords = at::stack({i.view({1, 1, s}).expand({1, s, s}), i.view({1, s, 1}).expand({1, s, s}),
                          at::full({1, s, s}, k, at::kDouble)}, -1);
  }
  std::mt19937_64 rng(stream(options_.seed, subject, kAnatomy));
  a.scale = uniform(rng, 0.92, 1.08);
  for (int w = 0; w < 3; ++w) a.warp.push_back(random_wave(rng, uniform(rng, 70, 160) / h, 1.5 / h, true));
  for (int w = 0; w < 2; ++w) a.bias.push_back(random_wave(rng, uniform(rng, 120, 250) / h, 0.1, false));
  a.gamma = uniform(rng, 0.85, 1.2);
  a.noise = uniform(rng, 0.015, 0.035);
  for (auto& j : a.strength_jitter) j = uniform(rng, 0.85, 1.15);
  a.base = sample_atlas(atlas, subject_map(atlas, a, a.coords));
  return a;
}

std::vector<BrainTwin> SyntheticBrain::subject(std::int64_t subject) const { return generate(subject, -1); }

std::vector<BrainTwin> SyntheticBrain::generate(std::int64_t subject, int only) const {
  const BrainAtlas& atlas = *atlas_;
  const BrainAnatomy anatomy = this->anatomy(subject);
  const double h = atlas.geometry.spacing[0];
  const double voxel_ml = h * h * h / 1000.0;
  const at::Tensor noise = brain_noise(stream(options_.seed, subject, kNoise), anatomy.base.t1.sizes());
  char id[32];
  std::snprintf(id, sizeof id, "sub-%05lld", static_cast<long long>(subject));
  const Geometry geometry = this->geometry();
  const auto finish = [&](const at::Tensor& image, const at::Tensor& mask, int level) {
    BrainTwin twin;
    twin.level = level;
    twin.example.image = (options_.dims == 3 ? image : image[0]).unsqueeze(0).contiguous();
    twin.example.mask = (options_.dims == 3 ? mask : mask[0]).unsqueeze(0).to(at::kByte).contiguous();
    twin.example.subject = id;
    twin.example.attributes["level"] = level;
    set_geometry(twin.example, geometry);
    return twin;
  };
  std::vector<BrainTwin> twins;
  if (options_.task == "ms") {
    const Sample& b = anatomy.base;
    const at::Tensor white_matter =
        b.brain & ~b.ventricles & ((b.jhu > 0) | ((b.aal == 0) & (b.t1 > kWhiteMatterT1)));
    std::mt19937_64 rng(stream(options_.seed, subject, kLesions));
    const int counts[3] = {static_cast<int>(rng() % 3), 5 + static_cast<int>(rng() % 5), 14 + static_cast<int>(rng() % 9)};
    const std::vector<Lesion> lesions = place_lesions(atlas, anatomy, white_matter, rng, counts[2]);
    for (int level = 0; level < kLevels; ++level) {
      if (only >= 0 && level != only) continue;
      const int n = std::min<int>(counts[level], static_cast<int>(lesions.size()));
      at::Tensor factor = at::ones(b.t1.numel(), at::kFloat);
      int periventricular = 0;
      for (int l = 0; l < n; ++l) {
        factor.index_put_({lesions[l].voxels},
                          at::minimum(factor.index({lesions[l].voxels}), at::full({1}, lesions[l].factor)));
        periventricular += lesions[l].periventricular;
      }
      factor = factor.view(b.t1.sizes());
      const at::Tensor mask = factor < 1;
      BrainTwin twin = finish(render(anatomy, b.t1 * factor, b.brain, noise), mask, level);
      MsFindings findings{level, n, mask.sum().item<double>() * voxel_ml, n ? double(periventricular) / n : 0.0};
      twin.example.attributes["lesion_count"] = n;
      twin.example.attributes["lesion_volume_ml"] = findings.lesion_volume_ml;
      std::mt19937_64 words(stream(options_.seed, subject, kReport, level));
      twin.example.text = ms_report(findings, words);
      twin.prompt = ms_prompt(level);
      twins.push_back(std::move(twin));
    }
    return twins;
  }
  double normal_hippocampus = 0, normal_ventricles = 0;
  for (int level = 0; level < kLevels; ++level) {
    if (only >= 0 && level != only && level != 0) continue;
    const Sample s = level == 0 ? anatomy.base
                                : sample_atlas(atlas, subject_map(atlas, anatomy,
                                                                  anatomy.coords + ad_displacement(anatomy, h, level).first));
    const at::Tensor hippocampus = s.brain & ((s.aal == 37) | (s.aal == 38)) & ~s.ventricles;
    const at::Tensor mask = hippocampus.to(at::kByte) + 2 * s.ventricles.to(at::kByte);
    BrainTwin twin = finish(render(anatomy, s.t1, s.brain, noise), mask, level);
    AdFindings findings;
    findings.level = level;
    findings.hippocampus_ml = hippocampus.sum().item<double>() * voxel_ml;
    findings.ventricle_ml = s.ventricles.sum().item<double>() * voxel_ml;
    if (level == 0) normal_hippocampus = findings.hippocampus_ml, normal_ventricles = findings.ventricle_ml;
    findings.hippocampus_change = normal_hippocampus > 0 ? findings.hippocampus_ml / normal_hippocampus - 1 : 0;
    findings.ventricle_change = normal_ventricles > 0 ? findings.ventricle_ml / normal_ventricles - 1 : 0;
    twin.example.attributes["hippocampus_volume_ml"] = findings.hippocampus_ml;
    twin.example.attributes["ventricle_volume_ml"] = findings.ventricle_ml;
    std::mt19937_64 words(stream(options_.seed, subject, kReport, level));
    twin.example.text = ad_report(findings, words);
    twin.prompt = ad_prompt(level);
    twins.push_back(std::move(twin));
  }
  return twins;
}

BrainTwin SyntheticBrain::twin(std::int64_t subject, int level) const {
  if (level < 0 || level >= kLevels) throw Error("synthetic-brain: level must be 0, 1 or 2");
  for (auto& twin : generate(subject, level))
    if (twin.level == level) return std::move(twin);
  throw Error("synthetic-brain: no twin at level " + std::to_string(level));
}

at::Tensor SyntheticBrain::deformation_support(std::int64_t subject) const {
  if (options_.task != "ad") return {};
  const at::Tensor support = ad_displacement(anatomy(subject), atlas_->geometry.spacing[0], 1).second;
  return options_.dims == 3 ? support : support[0];
}

std::vector<std::pair<std::int64_t, std::int64_t>> SyntheticBrain::pairs(std::int64_t subjects) {
  std::vector<std::pair<std::int64_t, std::int64_t>> out;
  for (std::int64_t s = 0; s < subjects; ++s)
    for (int a = 0; a < kLevels; ++a)
      for (int b = 0; b < kLevels; ++b)
        if (a != b) out.emplace_back(s * kLevels + a, s * kLevels + b);
  return out;
}

}  // namespace whatif::data

#include "whatif/data/chest_measures.hpp"

#include <cmath>
#include <deque>
#include <vector>

#include <ATen/ATen.h>

#include "whatif/registry/error.hpp"

namespace whatif::data {
namespace {

constexpr float kAirLike = -600, kDense = -400, kFluidBelow = 25;
constexpr float kFatBelow = -45;
constexpr double kConsolidationMinMl = 10, kCardiacFat = 0.1;

void require_volume(const at::Tensor& hu, const char* what) {
  if (!hu.defined() || hu.dim() != 3) throw Error(std::string("chest measures: ") + what + " must be a [D, H, W] HU volume");
}

at::Tensor mean3(const at::Tensor& hu) {
  return at::avg_pool3d(hu.to(at::kFloat).unsqueeze(0).unsqueeze(0), {3, 3, 3}, {1, 1, 1}, {1, 1, 1}, false, false)[0][0]
      .contiguous();
}

// Connected components of `mask` (26-neighbourhood), as lists of flat indices.
std::vector<std::vector<std::int64_t>> components(const at::Tensor& mask) {
  const at::Tensor m = mask.to(at::kByte).contiguous();
  const std::int64_t D = m.size(0), H = m.size(1), W = m.size(2);
  std::vector<std::uint8_t> seen(static_cast<std::size_t>(m.numel()), 0);
  const auto* in = m.data_ptr<std::uint8_t>();
  std::vector<std::vector<std::int64_t>> out;
  for (std::int64_t start = 0; start < m.numel(); ++start) {
    if (!in[start] || seen[static_cast<std::size_t>(start)]) continue;
    std::vector<std::int64_t> component{start};
    seen[static_cast<std::size_t>(start)] = 1;
    for (std::size_t q = 0; q < component.size(); ++q) {
      const std::int64_t v = component[q], k = v / (H * W), j = (v / W) % H, i = v % W;
      for (std::int64_t dk = -1; dk <= 1; ++dk)
        for (std::int64_t dj = -1; dj <= 1; ++dj)
          for (std::int64_t di = -1; di <= 1; ++di) {
            const std::int64_t kk = k + dk, jj = j + dj, ii = i + di;
            if (kk < 0 || kk >= D || jj < 0 || jj >= H || ii < 0 || ii >= W) continue;
            const std::int64_t u = (kk * H + jj) * W + ii;
            if (in[u] && !seen[static_cast<std::size_t>(u)]) seen[static_cast<std::size_t>(u)] = 1, component.push_back(u);
          }
    }
    out.push_back(std::move(component));
  }
  return out;
}

// Voxels of `mask` reachable from `seeds` through `mask` (6-neighbourhood).
at::Tensor flood(const at::Tensor& mask, const at::Tensor& seeds) {
  const at::Tensor m = mask.to(at::kByte).contiguous();
  const std::int64_t D = m.size(0), H = m.size(1), W = m.size(2);
  const auto* a = m.data_ptr<std::uint8_t>();
  at::Tensor reached = (seeds & mask).to(at::kByte).contiguous();
  auto* o = reached.data_ptr<std::uint8_t>();
  std::deque<std::int64_t> queue;
  for (std::int64_t v = 0; v < m.numel(); ++v)
    if (o[v]) queue.push_back(v);
  const std::int64_t steps[6] = {1, -1, W, -W, H * W, -H * W};
  while (!queue.empty()) {
    const std::int64_t v = queue.front();
    queue.pop_front();
    const std::int64_t k = v / (H * W), j = (v / W) % H, i = v % W;
    const bool inside[6] = {i + 1 < W, i > 0, j + 1 < H, j > 0, k + 1 < D, k > 0};
    for (int s = 0; s < 6; ++s) {
      if (!inside[s]) continue;
      const std::int64_t u = v + steps[s];
      if (a[u] && !o[u]) o[u] = 1, queue.push_back(u);
    }
  }
  return reached > 0;
}

// The aerated lung: air-like voxels (< -600 HU after a 3×3×3 mean) not connected to the side
// faces of the volume (outside air), without the airways: pure air (< -990 HU) connected to the
// top or bottom face, where the trachea leaves the field, widened by one voxel of air (< -900).
at::Tensor aerated_lung(const at::Tensor& hu) {
  const at::Tensor raw = hu.to(at::kFloat);
  const at::Tensor air = mean3(raw) < kAirLike;
  at::Tensor sides = at::zeros_like(air);
  using at::indexing::Slice;
  sides.index_put_({Slice(), Slice(), 0}, true);
  sides.index_put_({Slice(), Slice(), -1}, true);
  sides.index_put_({Slice(), 0, Slice()}, true);
  sides.index_put_({Slice(), -1, Slice()}, true);
  const at::Tensor inside = air & ~flood(air, sides);
  at::Tensor ends = at::zeros_like(air);
  ends.index_put_({0}, true);
  ends.index_put_({-1}, true);
  const at::Tensor core = flood(inside & (raw < -990), ends);
  const at::Tensor grown =
      at::max_pool3d(core.to(at::kFloat).unsqueeze(0).unsqueeze(0), {3, 3, 3}, {1, 1, 1}, {1, 1, 1})[0][0] > 0;
  return inside & ~(core | (grown & (raw < -900)));
}

}  // namespace

double cardiothoracic_ratio(const at::Tensor& hu) {
  require_volume(hu, "the volume");
  const at::Tensor lung = aerated_lung(hu);
  const at::Tensor smooth = mean3(hu);
  const std::int64_t D = hu.size(0), H = hu.size(1), W = hu.size(2);
  const at::Tensor columns = at::nonzero(lung.any(0).any(0)).flatten();
  if (columns.numel() == 0) return 0;
  const double thorax = (columns.max() - columns.min() + 1).item<double>();  // inner thoracic width
  // Axial slices well inside the lungs (at least half the largest lung area: above the domes).
  const at::Tensor area = lung.sum(at::IntArrayRef{1, 2}).to(at::kDouble);
  const double most = area.max().item<double>();
  // Heart muscle and blood: soft tissue denser than fluid (25 HU) and lighter than bone, between
  // the lungs along a row, in front of the lungs' centre (the spine and the muscles behind it lie
  // between the lungs too).
  const at::Tensor between = (lung.cumsum(2) > 0) & (lung.flip(2).cumsum(2).flip(2) > 0);
  const at::Tensor rows = at::arange(H, at::kDouble).view({1, H, 1});
  const at::Tensor centre = (lung.to(at::kDouble) * rows).sum(at::IntArrayRef{1, 2}) / area.clamp_min(1);
  const at::Tensor front = rows > centre.view({D, 1, 1});
  const at::Tensor heart_like = (smooth > 25) & (smooth < 150) & between & front &
                                (area >= 0.5 * most).view({D, 1, 1});
  double widest = 0;
  const auto parts = components(heart_like);
  std::size_t largest = 0;
  for (std::size_t c = 1; c < parts.size(); ++c)
    if (parts[c].size() > parts[largest].size()) largest = c;
  if (parts.empty()) return 0;
  std::map<std::int64_t, std::pair<std::int64_t, std::int64_t>> extent;  // per slice: min, max column
  for (auto v : parts[largest]) {
    auto [it, fresh] = extent.emplace(v / (H * W), std::make_pair(v % W, v % W));
    if (!fresh) it->second.first = std::min(it->second.first, v % W), it->second.second = std::max(it->second.second, v % W);
  }
  for (const auto& [k, e] : extent) widest = std::max(widest, double(e.second - e.first + 1));
  return widest / thorax;
}

namespace {

struct Stats {
  std::vector<double> measured, truth;
  std::vector<bool> calibration;
};

}  // namespace

double emphysema_percent(const at::Tensor& hu) {
  require_volume(hu, "the volume");
  const at::Tensor lung = aerated_lung(hu);
  const double n = lung.sum().item<double>();
  if (n == 0) return 0;
  return 100.0 * (lung & (hu < -950)).sum().item<double>() / n;
}

ChestChange chest_change(const at::Tensor& source, const at::Tensor& target, const Geometry& geometry) {
  require_volume(source, "source");
  require_volume(target, "target");
  if (source.sizes() != target.sizes()) throw Error("chest measures: source and target differ in shape");
  // Raw HU: the lung-to-dense gap (-850 to >= 15) is tens of noise deviations wide.
  const at::Tensor s = source.to(at::kFloat), t = target.to(at::kFloat);
  const double voxel_ml = geometry.spacing[0] * geometry.spacing[1] * geometry.spacing[2] / 1000.0;
  const std::int64_t H = source.size(1), W = source.size(2);
  const double midline =
      geometry.index_to_point({0.5 * double(W - 1), 0.5 * double(H - 1), 0.5 * double(source.size(0) - 1)})[0];
  ChestChange change;
  for (int direction : {1, -1}) {  // +1: turned dense in the target; -1: turned air-like
    const at::Tensor dense = (direction > 0 ? t : s).contiguous();
    const at::Tensor turned = direction > 0 ? (s < kAirLike) & (t > kDense) : (s > kDense) & (t < kAirLike);
    const float* hu = dense.data_ptr<float>();
    for (const auto& component : components(turned)) {
      // A heart growing into the lung brings its pericardial fat: components with fat are cardiac.
      double sum = 0, ci = 0, cj = 0, ck = 0, fat = 0;
      for (auto v : component) {
        sum += hu[v], fat += hu[v] < kFatBelow;
        ci += double(v % W), cj += double((v / W) % H), ck += double(v / (H * W));
      }
      const double n = double(component.size()), ml = direction * n * voxel_ml, mean = sum / n;
      if (fat >= kCardiacFat * n) continue;
      if (mean < kFluidBelow) {
        const double x = geometry.index_to_point({ci / n, cj / n, ck / n})[0];
        change.effusion_ml[x < midline ? 0 : 1] += ml;  // LPS x grows toward the patient's left
      } else if (n * voxel_ml >= kConsolidationMinMl) {
        change.consolidation_ml += ml;
      } else {
        change.nodule_ml += ml;
      }
    }
  }
  return change;
}

ChestChange true_chest_change(const std::map<std::string, double>& before, const std::map<std::string, double>& after) {
  const auto attribute = [](const std::map<std::string, double>& a, const std::string& name) {
    const auto it = a.find(name);
    if (it == a.end()) throw Error("chest measures: the examples have no attribute '" + name + "' (synthetic-chest CT has it)");
    return it->second;
  };
  const auto nodule_ml = [&](const std::map<std::string, double>& a) {
    double ml = 0;
    for (int id = 1; id <= 3; ++id) ml += M_PI / 6 * std::pow(attribute(a, "nodule_" + std::to_string(id) + "_diameter_mm"), 3) / 1000;
    return ml;
  };
  ChestChange c;
  c.effusion_ml = {attribute(after, "effusion_right_ml") - attribute(before, "effusion_right_ml"),
                   attribute(after, "effusion_left_ml") - attribute(before, "effusion_left_ml")};
  c.consolidation_ml = attribute(after, "consolidation_ml") - attribute(before, "consolidation_ml");
  c.nodule_ml = nodule_ml(after) - nodule_ml(before);
  return c;
}

std::map<std::string, double> calibrate_chest_measures(
    const std::vector<std::pair<std::int64_t, std::int64_t>>& pairs,
    const std::function<Example(std::int64_t)>& example) {
  if (pairs.empty()) throw Error("chest measures: the dataset has no (baseline, follow-up) pairs");
  std::map<std::string, Stats> stats;
  std::map<std::string, int> subjects;
  std::map<std::int64_t, bool> emphysema_done;
  const auto attribute = [](const Example& e, const std::string& name) {
    const auto it = e.attributes.find(name);
    if (it == e.attributes.end()) throw Error("chest measures: the dataset's examples have no attribute '" + name + "'");
    return it->second;
  };
  for (const auto& [a, b] : pairs) {
    const Example ea = example(a), eb = example(b);
    if (ea.image.dim() != 4) throw Error("chest measures: expected CT volumes [1, D, H, W] (modality ct)");
    const bool calibration = subjects.emplace(ea.subject, static_cast<int>(subjects.size())).first->second % 2 == 0;
    const ChestChange c = chest_change(ea.image[0], eb.image[0], geometry_of(ea));
    const auto add = [&](const std::string& name, double measured, double truth) {
      auto& s = stats[name];
      s.measured.push_back(measured), s.truth.push_back(truth), s.calibration.push_back(calibration);
    };
    const ChestChange truth = true_chest_change(ea.attributes, eb.attributes);
    add("effusion_ml", c.effusion_ml[0], truth.effusion_ml[0]);
    add("effusion_ml", c.effusion_ml[1], truth.effusion_ml[1]);
    add("consolidation_ml", c.consolidation_ml, truth.consolidation_ml);
    add("nodule_ml", c.nodule_ml, truth.nodule_ml);
    for (const auto& [index, e] : {std::make_pair(a, &ea), std::make_pair(b, &eb)})
      if (!emphysema_done[index]) {
        emphysema_done[index] = true;
        add("emphysema_percent", emphysema_percent(e->image[0]), attribute(*e, "emphysema_percent"));
        add("ctr", cardiothoracic_ratio(e->image[0]), attribute(*e, "ctr"));
      }
  }
  std::map<std::string, double> out{{"pairs", static_cast<double>(pairs.size())}};
  for (const auto& [name, s] : stats) {
    double mt = 0, mm = 0;
    for (std::size_t i = 0; i < s.truth.size(); ++i)
      if (s.calibration[i]) mt += s.measured[i] * s.truth[i], mm += s.measured[i] * s.measured[i];
    const double scale = mm > 0 ? mt / mm : 1.0;
    std::vector<double> m, t;
    for (std::size_t i = 0; i < s.truth.size(); ++i)
      if (!s.calibration[i]) m.push_back(scale * s.measured[i]), t.push_back(s.truth[i]);
    if (m.empty()) throw Error("chest measures: need at least two subjects (one to calibrate, one to validate)");
    double error = 0, truth = 0;
    for (std::size_t i = 0; i < m.size(); ++i) error += std::abs(m[i] - t[i]), truth += std::abs(t[i]);
    const at::Tensor x = at::tensor(m, at::kDouble), y = at::tensor(t, at::kDouble);
    const at::Tensor dx = x - x.mean(), dy = y - y.mean();
    const double den = std::sqrt((dx * dx).sum().item<double>() * (dy * dy).sum().item<double>());
    out[name + "_scale"] = scale;
    out[name + "_error"] = error / double(m.size());
    out[name + "_truth"] = truth / double(m.size());
    out[name + "_correlation"] = den > 0 ? (dx * dy).sum().item<double>() / den : 0.0;
  }
  return out;
}

}  // namespace whatif::data

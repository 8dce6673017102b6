#include <catch2/catch.hpp>

#include <cctype>
#include <cmath>
#include <random>
#include <set>
#include <sstream>

#include <ATen/ATen.h>

#include "data/chest_reports.hpp"
#include "whatif/data/synthetic_chest.hpp"
#include "whatif/registry/error.hpp"

using namespace whatif::data;

namespace {

constexpr double kPi = 3.14159265358979323846;

ChestOptions options(std::int64_t size = 40, std::uint64_t seed = 3, const std::string& modality = "ct") {
  ChestOptions o;
  o.size = size;
  o.seed = seed;
  o.modality = modality;
  return o;
}

double voxel_ml(const SyntheticChest& chest) {
  const auto s = chest.geometry().spacing;
  return s[0] * s[1] * s[2] / 1000.0;
}

// The first subjects whose tables, over all time points, hold every kind of finding.
std::vector<std::int64_t> subjects_covering_all_findings(const SyntheticChest& chest) {
  std::vector<std::int64_t> chosen;
  std::set<std::string> seen;
  for (std::int64_t s = 0; s < 60 && seen.size() < 6; ++s) {
    std::set<std::string> here;
    for (const auto& f : chest.findings(s)) {
      if (f.effusion_ml[0] > 0) here.insert("effusion right");
      if (f.effusion_ml[1] > 0) here.insert("effusion left");
      if (f.consolidation_ml > 0) here.insert("consolidation");
      if (!f.nodules.empty()) here.insert("nodule");
      if (f.cardiomegaly()) here.insert("cardiomegaly");
      if (f.emphysema_percent > 0) here.insert("emphysema");
    }
    const auto before = seen.size();
    seen.insert(here.begin(), here.end());
    if (seen.size() > before) chosen.push_back(s);
  }
  CATCH_REQUIRE(seen.size() == 6);
  return chosen;
}

}  // namespace

CATCH_TEST_CASE("synthetic chest: same seed, same scans; options out of range are refused") {
  const SyntheticChest a(options(32)), b(options(32)), c(options(32, 4));
  const auto sa = a.subject(1), sb = b.subject(1), sc = c.subject(1);
  CATCH_REQUIRE(sa.size() == 3);
  for (std::size_t t = 0; t < sa.size(); ++t) {
    CATCH_REQUIRE(at::equal(sa[t].example.image, sb[t].example.image));
    CATCH_REQUIRE(at::equal(sa[t].example.mask, sb[t].example.mask));
    CATCH_REQUIRE(sa[t].example.text == sb[t].example.text);
    CATCH_REQUIRE(sa[t].prompt == sb[t].prompt);
  }
  CATCH_REQUIRE(!at::equal(sa[0].example.image, sc[0].example.image));
  CATCH_REQUIRE(at::equal(a.scan(1, 2).example.image, sa[2].example.image));
  CATCH_REQUIRE(sa[0].example.image.sizes() == at::IntArrayRef({1, 32, 32, 32}));
  CATCH_REQUIRE(sa[0].example.subject == "sub-00001");
  CATCH_REQUIRE(sa[0].example.spacing[0] == Approx(360.0 / 32));

  ChestOptions bad = options(31);
  CATCH_REQUIRE_THROWS_WITH(SyntheticChest(bad), Catch::Contains("size 31: expected 32 to 128"));
  bad = options(129);
  CATCH_REQUIRE_THROWS_WITH(SyntheticChest(bad), Catch::Contains("expected 32 to 128"));
  bad = options(32, 0, "mri");
  CATCH_REQUIRE_THROWS_WITH(SyntheticChest(bad), Catch::Contains("modality 'mri': expected ct or cxr"));
  bad = options(32);
  bad.followups = 0;
  CATCH_REQUIRE_THROWS_WITH(SyntheticChest(bad), Catch::Contains("followups 0"));
}

CATCH_TEST_CASE("synthetic chest CT: tissues in their HU ranges, anatomy in place") {
  const SyntheticChest chest(options(48, 7));
  const std::int64_t S = 48;
  for (std::int64_t subject = 0; subject < 3; ++subject) {
    const ChestScan scan = chest.scan(subject, 0);
    const at::Tensor hu = scan.example.image[0];
    const at::Tensor tissue = scan.tissue;
    // Findings repaint lung; the cardiomegaly label only marks the heart.
    const at::Tensor clear = (scan.example.mask[0] == 0) | (scan.example.mask[0] == kCardiomegalyLabel);
    // Ranges of the table, checked on the mean of each tissue's voxels outside findings
    // (the image carries the subject's noise, 8–20 HU).
    const std::vector<std::tuple<ChestTissue, double, double>> ranges{
        {ChestTissue::air, -1003, -997},       {ChestTissue::fat, -110, -90},
        {ChestTissue::muscle, 30, 50},          {ChestTissue::blood, 40, 55},
        {ChestTissue::myocardium, 30, 50},      {ChestTissue::trabecular, 350, 450},
        {ChestTissue::cortical, 950, 1050},     {ChestTissue::airway, -1010, -990}};
    for (const auto& [t, lo, hi] : ranges) {
      const at::Tensor where = (tissue == static_cast<int>(t)) & clear;
      CATCH_INFO(tissue_name(t) << " in subject " << subject);
      CATCH_REQUIRE(where.sum().item<std::int64_t>() > 3);
      const double mean = hu.index({where}).mean().item<double>();
      CATCH_REQUIRE(mean > lo);
      CATCH_REQUIRE(mean < hi);
    }
    // Lung parenchyma ≈ -850 with a vessel tree: the median is parenchyma, the vessels pull the
    // mean up, and no voxel goes beyond blood plus noise.
    const at::Tensor lung = hu.index({(tissue == static_cast<int>(ChestTissue::lung)) & clear});
    const double median = lung.median().item<double>();
    CATCH_REQUIRE(median > -865);
    CATCH_REQUIRE(median < -835);
    CATCH_REQUIRE(lung.mean().item<double>() > median);
    CATCH_REQUIRE(lung.max().item<double>() < 150);

    // Anatomy: adult lung volume, heart left of the midline (index i runs to the patient's
    // right), spine behind the heart (index j runs anterior), lungs above the abdomen.
    const double lung_l = (tissue == static_cast<int>(ChestTissue::lung)).sum().item<double>() * voxel_ml(chest) / 1000;
    CATCH_REQUIRE(lung_l > 2.5);
    CATCH_REQUIRE(lung_l < 7.5);
    const auto centroid = [&](const at::Tensor& where, int axis) {
      const at::Tensor index = at::nonzero(where).to(at::kDouble);
      return index.select(1, axis).mean().item<double>();
    };
    const at::Tensor heart = (tissue == static_cast<int>(ChestTissue::myocardium)) |
                             (tissue == static_cast<int>(ChestTissue::blood));
    const at::Tensor vertebrae = tissue == static_cast<int>(ChestTissue::trabecular);
    CATCH_REQUIRE(centroid(heart, 2) < 0.5 * (S - 1));
    CATCH_REQUIRE(centroid(vertebrae, 1) < centroid(heart, 1));
    CATCH_REQUIRE(centroid(tissue == static_cast<int>(ChestTissue::abdomen), 0) <
                  centroid(tissue == static_cast<int>(ChestTissue::lung), 0));
  }
}

CATCH_TEST_CASE("synthetic chest: finding masks hold the requested measures") {
  const SyntheticChest chest(options(40, 11));
  const double v = voxel_ml(chest);
  const double h = chest.geometry().spacing[0];
  const std::int64_t S = 40;
  int checked_nodules = 0, checked_ctr = 0, checked_emphysema = 0;
  for (const std::int64_t subject : subjects_covering_all_findings(chest)) {
    for (const ChestScan& scan : chest.subject(subject)) {
      const ChestFindings& f = scan.findings;
      const at::Tensor mask = scan.example.mask[0];
      const at::Tensor hu = scan.example.image[0];
      CATCH_INFO("subject " << subject << " time " << f.time << ": " << scan.example.text);
      // Effusion and consolidation: first n voxels of a fixed order, n = round(V / voxel).
      const at::Tensor right = at::arange(S).view({1, 1, S}) >= S / 2;  // x > 0: the patient's right
      const double right_ml = ((mask == kEffusionLabel) & right).sum().item<double>() * v;
      const double left_ml = ((mask == kEffusionLabel) & ~right).sum().item<double>() * v;
      CATCH_REQUIRE(std::abs(right_ml - f.effusion_ml[0]) <= 0.5 * v + 1e-9);
      CATCH_REQUIRE(std::abs(left_ml - f.effusion_ml[1]) <= 0.5 * v + 1e-9);
      CATCH_REQUIRE(std::abs((mask == kConsolidationLabel).sum().item<double>() * v - f.consolidation_ml) <= 0.5 * v + 1e-9);
      // Nodules: a ball voxelised by its centres differs from the ball only within the shell of
      // half-width h√3/2 around its surface.
      const at::Tensor nodule_voxels = at::nonzero(mask == kNoduleLabel).to(at::kDouble);
      std::vector<int> counts(f.nodules.size(), 0);
      for (std::int64_t q = 0; q < nodule_voxels.size(0); ++q) {
        const auto k = nodule_voxels[q][0].item<double>(), j = nodule_voxels[q][1].item<double>(),
                   i = nodule_voxels[q][2].item<double>();
        const double x = (i - 0.5 * (S - 1)) * h, y = (j - 0.5 * (S - 1)) * h, z = (k - 0.5 * (S - 1)) * h;
        std::size_t nearest = 0;
        double best = 1e9;
        for (std::size_t n = 0; n < f.nodules.size(); ++n) {
          const auto& c = f.nodules[n].centre;
          const double d = std::hypot(x - c[0], y - c[1], z - c[2]);
          if (d < best) best = d, nearest = n;
        }
        CATCH_REQUIRE(best <= 0.5 * f.nodules[nearest].diameter_mm + 1e-9);
        ++counts[nearest];
      }
      for (std::size_t n = 0; n < f.nodules.size(); ++n) {
        const double r = 0.5 * f.nodules[n].diameter_mm, delta = h * std::sqrt(3.0) / 2;
        const double ball = 4.0 / 3.0 * kPi * r * r * r / 1000;
        const double shell = 4.0 / 3.0 * kPi * (std::pow(r + delta, 3) - std::pow(std::max(0.0, r - delta), 3)) / 1000;
        CATCH_REQUIRE(std::abs(counts[n] * v - ball) <= 0.5 * shell);
        ++checked_nodules;
      }
      // Emphysema: its share of the aerated lung, and the same share measured as the fraction of
      // aerated lung below -950 HU on the noisy image (emphysema at -975, parenchyma at -850 or
      // above: noise of at most 20 HU moves at most 11 % of emphysema voxels across -950).
      const at::Tensor aerated = (scan.tissue == static_cast<int>(ChestTissue::lung)) &
                                 ((mask == 0) | (mask == kEmphysemaLabel));
      const double n_aerated = aerated.sum().item<double>();
      const double share = (mask == kEmphysemaLabel).sum().item<double>() / n_aerated;
      CATCH_REQUIRE(std::abs(share - f.emphysema_percent / 100) <= 0.5 / n_aerated + 1e-12);
      const double laa = (hu.index({aerated}) < -950).sum().item<double>() / n_aerated;
      CATCH_REQUIRE(laa <= f.emphysema_percent / 100 + 0.002);
      CATCH_REQUIRE(laa >= 0.89 * f.emphysema_percent / 100 - 0.002);
      if (f.emphysema_percent > 0) ++checked_emphysema;
      // Cardiomegaly: silhouette width over the lungs' width (the inner thoracic width) on the mask.
      if (f.cardiomegaly()) {
        const auto extent = [](const at::Tensor& where) {
          const at::Tensor i = at::nonzero(where).select(1, 2);
          return (i.max() - i.min() + 1).item<double>();
        };
        const double measured = extent(mask == kCardiomegalyLabel) /
                                extent(scan.tissue == static_cast<int>(ChestTissue::lung));
        CATCH_REQUIRE(std::abs(measured - f.ctr) <= 2.0 / extent(scan.tissue == static_cast<int>(ChestTissue::lung)) + 0.02);
        ++checked_ctr;
      } else {
        CATCH_REQUIRE((mask == kCardiomegalyLabel).sum().item<std::int64_t>() == 0);
      }
    }
  }
  CATCH_REQUIRE(checked_nodules > 0);
  CATCH_REQUIRE(checked_ctr > 0);
  CATCH_REQUIRE(checked_emphysema > 0);
}

CATCH_TEST_CASE("synthetic chest: a follow-up differs from its baseline only inside the findings' masks") {
  const SyntheticChest chest(options(32, 5));
  int changed_pairs = 0;
  for (std::int64_t subject = 0; subject < 8; ++subject) {
    const auto scans = chest.subject(subject);
    const auto& base = scans[0].example;
    for (std::size_t t = 1; t < scans.size(); ++t) {
      const auto& follow = scans[t].example;
      const at::Tensor changed = base.image != follow.image;
      const at::Tensor inside = (base.mask > 0) | (follow.mask > 0);
      CATCH_REQUIRE((changed & ~inside).sum().item<std::int64_t>() == 0);
      auto before = scans[0].findings.attributes(), after = scans[t].findings.attributes();
      for (const char* key : {"time", "months"}) before.erase(key), after.erase(key);
      const bool same_table = before == after;
      if (!same_table) CATCH_REQUIRE(changed.any().item<bool>());
      changed_pairs += changed.any().item<bool>();
      CATCH_REQUIRE(at::equal(scans[0].tissue.index({~inside[0]}), scans[t].tissue.index({~inside[0]})));
    }
  }
  CATCH_REQUIRE(changed_pairs >= 4);
}

CATCH_TEST_CASE("synthetic chest: radiographs share subjects, text and findings with the CT") {
  const SyntheticChest ct(options(32, 9)), cxr(options(32, 9, "cxr"));
  const auto a = ct.subject(2), b = cxr.subject(2);
  CATCH_REQUIRE(b[0].example.image.sizes() == at::IntArrayRef({1, 64, 64}));
  CATCH_REQUIRE(b[0].example.mask.sizes() == at::IntArrayRef({1, 64, 64}));
  for (std::size_t t = 0; t < a.size(); ++t) {
    CATCH_REQUIRE(a[t].example.text == b[t].example.text);
    CATCH_REQUIRE(a[t].prompt == b[t].prompt);
    CATCH_REQUIRE(a[t].example.attributes == b[t].example.attributes);
  }
  // PA orientation: the patient's right is on the viewer's left, the head at the top (rows run
  // feet to head). A right-sided effusion projects into the left half, at the lung bases.
  bool found = false;
  for (std::int64_t s = 0; s < 40 && !found; ++s) {
    const auto tables = cxr.findings(s);
    if (!(tables[0].effusion_ml[0] > 100 && tables[0].effusion_ml[1] == 0)) continue;
    const at::Tensor mask = cxr.scan(s, 0).example.mask[0];
    const at::Tensor cols = at::nonzero(mask == kEffusionLabel).to(at::kDouble);
    CATCH_REQUIRE(cols.size(0) > 0);
    CATCH_REQUIRE(cols.select(1, 1).max().item<double>() < 32);
    CATCH_REQUIRE(cols.select(1, 0).mean().item<double>() < 32);
    found = true;
  }
  CATCH_REQUIRE(found);
  // A PA film: the lungs (left and right thirds of the chest, mid height) transmit more than
  // the mediastinum and spine (the central columns).
  const at::Tensor p = b[0].example.image[0];
  using at::indexing::Slice;
  const double lungs = p.index({Slice(32, 44), Slice(12, 22)}).mean().item<double>() +
                       p.index({Slice(32, 44), Slice(42, 52)}).mean().item<double>();
  const double mediastinum = p.index({Slice(32, 44), Slice(29, 35)}).mean().item<double>();
  CATCH_REQUIRE(mediastinum > 0.5 * lungs + 0.3);
}

CATCH_TEST_CASE("chest reports: deterministic, every finding with its measure, absent ones only negated") {
  std::mt19937_64 draw(17);
  const auto u = [&](double lo, double hi) { return lo + (hi - lo) * double(draw() >> 11) * 0x1.0p-53; };
  const std::vector<std::string> negations{"No ", "no ", "not ", "without", "clear"};
  const auto negative = [&](const std::string& s) {
    for (const auto& n : negations)
      if (s.find(n) != std::string::npos) return true;
    return false;
  };
  const auto sentences = [](const std::string& text) {
    std::vector<std::string> out;
    std::string current;
    for (std::size_t i = 0; i < text.size(); ++i) {
      current += text[i];
      const bool end = (text[i] == '.' && (i + 1 == text.size() || text[i + 1] == ' ') &&
                        !(i > 0 && std::isdigit(static_cast<unsigned char>(text[i - 1])) && i + 1 < text.size() &&
                          std::isdigit(static_cast<unsigned char>(text[i + 1])))) ||
                       text[i] == ':';
      if (end) out.push_back(current), current.clear();
    }
    if (!current.empty()) out.push_back(current);
    return out;
  };
  std::set<std::string> distinct;
  for (int n = 0; n < 300; ++n) {
    ChestFindings f;
    for (int i = 0, count = static_cast<int>(draw() % 4); i < count; ++i) {
      ChestNodule nodule;
      nodule.id = i + 1;
      nodule.lobe = 1 + static_cast<int>(draw() % 5);
      nodule.diameter_mm = u(4, 30);
      f.nodules.push_back(nodule);
    }
    for (auto& e : f.effusion_ml) e = u(0, 1) < 0.4 ? u(20, 900) : 0;
    if (u(0, 1) < 0.4) f.consolidation_lobe = 1 + static_cast<int>(draw() % 5), f.consolidation_ml = u(20, 500);
    f.air_bronchograms = f.consolidation_ml > 0 && u(0, 1) < 0.5;
    f.ctr = u(0.38, 0.64);
    f.emphysema_percent = u(0, 1) < 0.4 ? u(2, 30) : 0;

    std::mt19937_64 r1(n), r2(n);
    const std::string report = chest_report(f, r1);
    CATCH_INFO(report);
    CATCH_REQUIRE(report == chest_report(f, r2));
    distinct.insert(report.substr(0, 40));
    const auto all = sentences(report);
    // Sentences naming a category: if present, at least one says so; if absent, all negate it.
    const auto mentions = [&](const std::vector<std::string>& words, bool present) {
      bool positive = false;
      for (const auto& s : all) {
        bool named = false;
        for (const auto& w : words) named = named || s.find(w) != std::string::npos;
        if (!named) continue;
        if (!present) CATCH_REQUIRE(negative(s));
        positive = positive || !negative(s);
      }
      if (present) CATCH_REQUIRE(positive);
    };
    mentions({"nodule"}, !f.nodules.empty());
    mentions({"consolidation"}, f.consolidation_ml > 0);
    mentions({"emphysema"}, f.emphysema_percent > 0);
    mentions({"effusion"}, f.effusion_ml[0] > 0 || f.effusion_ml[1] > 0);
    mentions({"ardiomegaly", "enlarged"}, f.cardiomegaly());
    mentions({"air bronchograms"}, f.air_bronchograms);
    for (int side = 0; side < 2; ++side) {
      const std::string name = side == 0 ? "right" : "left";
      if (f.effusion_ml[side] > 0) {
        CATCH_REQUIRE(report.find(approx_ml(f.effusion_ml[side]).substr(6)) != std::string::npos);
      } else {
        for (auto s : all) {
          for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          for (const std::string& phrase : {name + " pleural", name + "-sided", "on the " + name, " " + name + ")"})
            if (s.find(phrase) != std::string::npos) CATCH_REQUIRE(negative(s));
        }
      }
    }
    std::string lower = report;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const auto& nodule : f.nodules) {
      CATCH_REQUIRE(report.find(nodule_mm(nodule.diameter_mm)) != std::string::npos);
      CATCH_REQUIRE(lower.find(lobe_name(nodule.lobe)) != std::string::npos);
    }
    if (f.consolidation_ml > 0) CATCH_REQUIRE(report.find(approx_ml(f.consolidation_ml)) != std::string::npos);
    if (f.emphysema_percent > 0) CATCH_REQUIRE(report.find(percent_text(f.emphysema_percent)) != std::string::npos);
    CATCH_REQUIRE(report.find(ctr_text(f.ctr)) != std::string::npos);

    // Interpretation against a later table: each finding's change in the grammar's words.
    ChestFindings g = f;
    g.months = 6;
    for (auto& e : g.effusion_ml) e = u(0, 1) < 0.3 ? 0 : (e > 0 ? e * u(0.3, 2.5) : (u(0, 1) < 0.3 ? u(30, 400) : 0));
    std::mt19937_64 r3(n), r4(n);
    const std::string change = chest_interpretation(f, g, r3);
    CATCH_INFO(change);
    CATCH_REQUIRE(change == chest_interpretation(f, g, r4));
    CATCH_REQUIRE(change.find("6 months") != std::string::npos);
    for (int side = 0; side < 2; ++side) {
      const double a = f.effusion_ml[side], b = g.effusion_ml[side];
      const std::string thing = std::string(side == 0 ? "right" : "left") + " pleural effusion";
      if (a <= 0 && b <= 0) {
        CATCH_REQUIRE(change.find(thing) == std::string::npos);
        continue;
      }
      CATCH_REQUIRE(change.find(thing) != std::string::npos);
      const std::string expected = a <= 0                               ? "ew " + thing
                                   : b <= 0                              ? "previous"
                                   : std::abs(b - a) < 0.1 * a           ? "nchanged|Stable"
                                   : b > a                               ? "increased|larger"
                                                                         : "decreased|smaller";
      bool found = false;
      for (const auto& s : sentences(change)) {
        if (s.find(thing) == std::string::npos) continue;
        std::stringstream alternatives(expected);
        for (std::string word; std::getline(alternatives, word, '|');)
          found = found || s.find(word) != std::string::npos;
      }
      CATCH_REQUIRE(found);
    }
  }
  CATCH_REQUIRE(distinct.size() > 50);
}

#include "results/report.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "results/run_header.hpp"
#include "results/sample_montage.hpp"
#include "util/text_file.hpp"
#include "whatif/registry/error.hpp"

namespace whatif {
namespace fs = std::filesystem;
namespace {

std::string number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream out;
  out << std::setprecision(4) << v;
  return out.str();
}

// The parameters whose values differ across groups, in key order.
std::vector<std::string> differing_keys(const std::vector<ArmGroup>& groups) {
  std::map<std::string, std::set<std::string>> values;
  std::set<std::string> keys;
  for (const auto& g : groups) {
    const auto arm = nlohmann::json::parse(g.arm_json);
    for (const auto& item : arm.items()) keys.insert(item.key());
  }
  for (const auto& g : groups) {
    const auto j = nlohmann::json::parse(g.arm_json);
    for (const auto& k : keys) values[k].insert(j.contains(k) ? j[k].dump() : "-");
  }
  std::vector<std::string> out;
  for (const auto& k : keys)
    if (values[k].size() > 1) out.push_back(k);
  return out;
}

std::string cell(const nlohmann::json& arm, const std::string& key) {
  if (!arm.contains(key)) return "-";
  return arm[key].is_string() ? arm[key].get<std::string>() : arm[key].dump();
}

using Series = std::vector<std::pair<std::string, std::vector<std::pair<double, double>>>>;

// A line plot as SVG: one polyline (with point marks) per series, axes labelled with their ranges.
void write_xy_svg(const std::string& path, const std::string& title, const std::string& x_label,
                  const Series& series) {
  double lo = INFINITY, hi = -INFINITY, left = INFINITY, right = -INFINITY;
  for (const auto& [label, points] : series)
    for (const auto& [x, y] : points)
      if (std::isfinite(x)) {
        left = std::min(left, x), right = std::max(right, x);
        if (std::isfinite(y)) lo = std::min(lo, y), hi = std::max(hi, y);
      }
  if (!std::isfinite(lo)) lo = 0, hi = 1;  // every value off the axis
  if (!(hi > lo)) hi = lo + 1;
  if (!(right > left)) right = left + 1;
  const double w = 640, h = 360, m = 50;
  static const char* colours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"};
  std::ostringstream out;
  out << "<svg xmlns='http://www.w3.org/2000/svg' width='" << w << "' height='" << h + 20 * series.size()
      << "' font-family='sans-serif' font-size='12'>\n<rect width='100%' height='100%' fill='white'/>\n"
      << "<text x='" << m << "' y='20'>" << title << "</text>\n"
      << "<text x='4' y='" << m << "'>" << number(hi) << "</text><text x='4' y='" << h - m << "'>"
      << number(lo) << "</text><text x='" << m << "' y='" << h - m + 16 << "'>" << number(left)
      << "</text><text x='" << w / 2 << "' y='" << h - m + 16 << "'>" << x_label << "</text><text x='" << w - m
      << "' y='" << h - m + 16 << "'>" << number(right) << "</text>\n"
      << "<line x1='" << m << "' y1='" << h - m << "' x2='" << w - 10 << "' y2='" << h - m << "' stroke='black'/>"
      << "<line x1='" << m << "' y1='" << m << "' x2='" << m << "' y2='" << h - m << "' stroke='black'/>\n";
  for (std::size_t s = 0; s < series.size(); ++s) {
    const auto& [label, points] = series[s];
    const char* colour = colours[s % 7];
    std::ostringstream marks;
    out << "<polyline fill='none' stroke='" << colour << "' points='";
    for (const auto& [x, y] : points) {
      if (!std::isfinite(x)) continue;
      if (!std::isfinite(y)) {
        // Off the axis: a hollow mark at the top (+inf) or bottom (−inf, NaN) edge, labelled.
        const double px = m + (w - m - 10) * (x - left) / (right - left);
        const double py = y > 0 ? m - 8 : h - m - 8;
        marks << "<circle cx='" << px << "' cy='" << py << "' r='4' fill='white' stroke='" << colour << "'/>"
              << "<text x='" << px + 6 << "' y='" << py + 4 << "' fill='" << colour << "'>" << number(y) << "</text>";
        continue;
      }
      const double px = m + (w - m - 10) * (x - left) / (right - left);
      const double py = (h - m) - (h - 2 * m) * (y - lo) / (hi - lo);
      out << px << "," << py << " ";
      if (points.size() <= 32) marks << "<circle cx='" << px << "' cy='" << py << "' r='3' fill='" << colour << "'/>";
    }
    out << "'/>\n" << marks.str() << "<text x='" << m << "' y='" << h + 14 + 20 * s << "' fill='" << colour
        << "'>" << label << "</text>\n";
  }
  out << "</svg>\n";
  write_text_atomically(path, out.str());
}

bool is_number(const nlohmann::json& arm, const std::string& key) {
  return arm.contains(key) && arm[key].is_number();
}

// For every differing arm parameter whose values are all numbers: one SVG per metric, the metric's
// mean against the parameter, one line per combination of the other differing parameters.
void write_metric_plots(std::ostringstream& md, const std::string& dir, const std::vector<ArmGroup>& groups,
                        const std::vector<std::string>& keys, const std::set<std::string>& metric_names) {
  bool heading = false;
  for (const auto& key : keys) {
    const bool numeric = std::all_of(groups.begin(), groups.end(), [&](const ArmGroup& g) {
      return is_number(nlohmann::json::parse(g.arm_json), key);
    });
    if (!numeric) continue;
    for (const auto& metric : metric_names) {
      std::map<std::string, std::vector<std::pair<double, double>>> lines;
      for (const auto& g : groups) {
        const auto arm = nlohmann::json::parse(g.arm_json);
        const auto it = g.metrics.find(metric);
        if (it == g.metrics.end()) continue;
        std::string label;
        for (const auto& other : keys)
          if (other != key) label += (label.empty() ? "" : ", ") + other + "=" + cell(arm, other);
        lines[label.empty() ? metric : label].emplace_back(arm[key].get<double>(), it->second.first);
      }
      Series series;
      for (auto& [label, points] : lines) {
        if (points.size() < 2) continue;
        std::sort(points.begin(), points.end());
        series.emplace_back(label, points);
      }
      if (series.empty()) continue;
      if (!heading) md << "\n## Metrics against parameters (means over seeds)\n\n";
      heading = true;
      const std::string file = "metric-" + metric + "-vs-" + key + ".svg";
      write_xy_svg((fs::path(dir) / file).string(), metric + " vs " + key, key, series);
      md << "![" << metric << " vs " << key << "](" << file << ")\n\n";
    }
  }
}

}  // namespace

std::vector<ArmGroup> group_by_arm(const std::vector<ArmResult>& arms) {
  std::vector<ArmGroup> groups;
  for (const auto& arm : arms) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const ArmGroup& g) { return g.arm_json == arm.arm_json; });
    if (it == groups.end()) {
      groups.push_back(ArmGroup{arm.arm_json, {}, {}});
      it = groups.end() - 1;
    }
    it->runs.push_back(&arm);
  }
  for (auto& g : groups) {
    // Seed order, not file-name order (seed10 would sort before seed2).
    std::stable_sort(g.runs.begin(), g.runs.end(),
                     [](const ArmResult* a, const ArmResult* b) { return a->seed < b->seed; });
    std::map<std::string, std::vector<double>> values;
    for (const auto* run : g.runs)
      if (run->status == "complete")
        for (const auto& [k, v] : run->metrics) values[k].push_back(v);
    for (const auto& [k, v] : values) {
      double mean = 0;
      for (const double x : v) mean += x;
      mean /= static_cast<double>(v.size());
      double var = 0;
      for (const double x : v) var += (x - mean) * (x - mean);
      g.metrics[k] = {mean, v.size() > 1 ? std::sqrt(var / static_cast<double>(v.size() - 1)) : 0.0};
    }
    g.values = std::move(values);
  }
  return groups;
}

std::string write_report(const std::string& dir) {
  const std::vector<ArmResult> arms = read_run(dir, true);
  const std::vector<ArmGroup> groups = group_by_arm(arms);
  const std::vector<std::string> keys = differing_keys(groups);
  std::set<std::string> metric_names;
  for (const auto& g : groups)
    for (const auto& [k, v] : g.metrics) metric_names.insert(k);

  std::ostringstream md, csv;
  md << "# Report: " << fs::path(dir).filename().string() << "\n\n";
  const nlohmann::json prov = arms.front().provenance_json.empty()
                                  ? nlohmann::json::object()
                                  : nlohmann::json::parse(arms.front().provenance_json);
  md << "Run directory `" << dir << "`; " << arms.size() << " arm result(s) in " << groups.size()
     << " arm(s). Values are mean ± std over seeds (n seeds); below three seeds, each seed's value "
        "in the order of the seeds line (a / b): two values make no spread worth the name.\n\n"
     << run_header(arms).markdown() << "\n";
  // What the experiment script concluded from its results (whatif.summary), verbatim.
  if (std::ifstream summary{fs::path(dir) / "summary.md"}) {
    md << "## Summary\n\n" << summary.rdbuf() << "\n\n## Results\n\n";
  }
  md << "|";
  for (const auto& k : keys) md << " " << k << " |", csv << k << ",";
  for (const auto& m : metric_names) md << " " << m << " |", csv << m << "_mean," << m << "_std,";
  md << " n |\n|";
  csv << "n\n";
  for (std::size_t i = 0; i < keys.size() + metric_names.size() + 1; ++i) md << "---|";
  md << "\n";
  for (const auto& g : groups) {
    const auto arm = nlohmann::json::parse(g.arm_json);
    md << "|";
    for (const auto& k : keys) md << " " << cell(arm, k) << " |", csv << cell(arm, k) << ",";
    for (const auto& m : metric_names) {
      const auto it = g.metrics.find(m);
      if (it == g.metrics.end()) {
        md << " - |";
        csv << ",,";
      } else {
        // A non-finite mean has no spread to show (the PSNR of identical twins is inf); below three
        // seeds the values themselves are shown.
        const std::vector<double>& seeds = g.values.at(m);
        if (shows_each_seed(seeds.size())) {
          md << " ";
          for (std::size_t s = 0; s < seeds.size(); ++s) md << (s ? " / " : "") << number(seeds[s]);
          md << " |";
        } else if (std::isfinite(it->second.first)) {
          md << " " << number(it->second.first) << " ± " << number(it->second.second) << " |";
        } else {
          md << " " << number(it->second.first) << " |";
        }
        csv << std::setprecision(10) << it->second.first << "," << it->second.second << ",";
      }
    }
    std::size_t complete = 0;
    for (const auto* r : g.runs) complete += r->status == "complete";
    md << " " << complete << " |\n";
    csv << complete << "\n";
  }
  std::vector<const ArmResult*> failures;
  for (const auto& a : arms)
    if (a.status != "complete") failures.push_back(&a);
  if (!failures.empty()) {
    md << "\n## Failed arms\n\n";
    for (const auto* f : failures) md << "- `" << f->id << "`: " << f->message << "\n";
  }

  write_metric_plots(md, dir, groups, keys, metric_names);

  // Curves: one SVG per name, first seed of every group.
  std::set<std::string> curve_names;
  for (const auto& a : arms)
    for (const auto& [k, v] : a.curves) curve_names.insert(k);
  if (!curve_names.empty()) md << "\n## Curves\n\n";
  for (const auto& name : curve_names) {
    std::vector<std::pair<std::string, std::vector<double>>> series;
    for (const auto& g : groups)
      for (const auto* r : g.runs)
        if (r->curves.count(name)) {
          series.emplace_back(r->id, r->curves.at(name));
          break;
        }
    Series indexed;
    for (const auto& [label, v] : series) {
      std::vector<std::pair<double, double>> points;
      for (std::size_t i = 0; i < v.size(); ++i) points.emplace_back(static_cast<double>(i), v[i]);
      indexed.emplace_back(label, points);
    }
    const std::string file = "curves-" + name + ".svg";
    write_xy_svg((fs::path(dir) / file).string(), name, "step", indexed);
    md << "![" << name << "](" << file << ")\n\n";
  }
  // Samples: one montage per arm (first seed).
  bool any_samples = false;
  for (const auto& g : groups) {
    const ArmResult* first = g.runs.front();
    if (first->samples.empty()) continue;
    if (!any_samples) md << "\n## Samples (axial mid-slices, one intensity scale per arm)\n\n";
    any_samples = true;
    const std::string file = "samples-" + first->id + ".png";
    const MontageLayout layout = write_sample_montage((fs::path(dir) / file).string(), first->samples);
    if (layout.panels.empty()) continue;
    md << "`" << first->id << "`, left to right: ";
    for (std::size_t i = 0; i < layout.panels.size(); ++i) md << (i ? " | " : "") << layout.panels[i];
    md << "\n\n![" << first->id << "](" << file << ")\n\n";
    bool listed = false;
    for (const auto& [name, tensor] : first->samples) {
      const auto note = first->sample_notes.find(name);
      const auto truth = first->sample_truths.find(name);
      const auto grid = first->sample_geometry.find(name);
      if (note == first->sample_notes.end() && truth == first->sample_truths.end() && grid == first->sample_geometry.end())
        continue;
      std::vector<std::string> parts;
      if (note != first->sample_notes.end()) parts.push_back(note->second);
      if (truth != first->sample_truths.end()) parts.push_back("ground truth: " + truth->second);
      if (grid != first->sample_geometry.end()) {
        const auto& sp = grid->second.spacing;
        parts.push_back("voxels " + number(sp[0]) + " × " + number(sp[1]) + " × " + number(sp[2]) + " mm");
      }
      md << "- " << name << ":";
      for (std::size_t i = 0; i < parts.size(); ++i) md << (i ? " — " : " ") << parts[i];
      md << "\n";
      listed = true;
    }
    if (listed) md << "\n";
  }
  md << "\n## Provenance (first arm)\n\n";
  for (const auto& key : {"whatif", "commit", "libtorch", "blas", "cpu", "aten kernels", "cpu capability", "onednn",
                          "bf16 autocast", "threads", "device", "host"})
    if (prov.contains(key)) md << "- " << key << ": " << (prov[key].is_string() ? prov[key].get<std::string>() : prov[key].dump()) << "\n";

  const fs::path md_path = fs::path(dir) / "report.md";
  write_text_atomically(fs::path(dir) / "report.csv", csv.str());
  write_text_atomically(md_path, md.str());
  return md_path.string();
}

}  // namespace whatif

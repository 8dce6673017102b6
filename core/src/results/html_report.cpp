#include "results/html_report.hpp"

#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "results/report.hpp"
#include "results/result_store.hpp"
#include "results/sample_volumes.hpp"
#include "results/web_assets.hpp"
#include "util/text_file.hpp"
#include "whatif/registry/error.hpp"

namespace whatif {
namespace fs = std::filesystem;
namespace {

// Non-finite numbers have no JSON form: they travel as strings ("inf", "-inf", "nan").
nlohmann::json json_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

// A long curve (a loss per step of a long run) is thinned to at most `limit` points, each the
// mean of its bin, so the page stays small; short curves pass unchanged.
nlohmann::json thinned(const std::vector<double>& values, std::size_t limit = 2000) {
  nlohmann::json points = nlohmann::json::array();
  const std::size_t bin = (values.size() + limit - 1) / limit;
  for (std::size_t start = 0; start < values.size(); start += std::max<std::size_t>(bin, 1)) {
    const std::size_t end = std::min(values.size(), start + std::max<std::size_t>(bin, 1));
    double sum = 0;
    for (std::size_t i = start; i < end; ++i) sum += values[i];
    points.push_back({{"step", static_cast<double>(start + end - 1) / 2.0},
                      {"value", json_number(sum / static_cast<double>(end - start))}});
  }
  return points;
}

// A sample's name as a file name: scripts choose names, so only [A-Za-z0-9_.-] stays and a
// leading dot is replaced (no "..", no hidden files).
std::string file_stem(const std::string& name) {
  std::string out;
  for (const char c : name) out += std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.' ? c : '_';
  if (out.empty() || out.front() == '.') out.insert(out.begin(), '_');
  return out;
}

// An arm's stored samples as NIfTI files in DIR/volumes/<arm id>/ and as base64 for the page.
nlohmann::json export_samples(const std::string& dir, const ArmResult& arm) {
  nlohmann::json volumes = nlohmann::json::array();
  const fs::path folder = fs::path(dir) / "volumes" / arm.id;
  for (const auto& [name, tensor] : arm.samples) {
    const at::Tensor image = sample_image(tensor);
    if (!image.defined()) continue;
    fs::create_directories(folder);
    const std::string file = file_stem(name) + ".nii.gz";
    const auto geometry = arm.sample_geometry.find(name);
    const bool placed = geometry != arm.sample_geometry.end();
    const data::Geometry grid = placed ? geometry->second : data::Geometry{};
    const std::string bytes = write_sample_nifti(image, grid, (folder / file).string());
    const auto text = [&](const std::map<std::string, std::string>& texts) {
      const auto it = texts.find(name);
      return it == texts.end() ? std::string() : it->second;
    };
    volumes.push_back({{"name", name},
                       {"note", text(arm.sample_notes)},
                       {"truth", text(arm.sample_truths)},
                       {"spacing", placed ? nlohmann::json(grid.spacing) : nlohmann::json(nullptr)},
                       {"file", (fs::path("volumes") / arm.id / file).generic_string()},
                       {"shape", image.sizes().vec()},
                       {"nifti", base64(bytes)}});
  }
  return volumes;
}

nlohmann::json page_data(const std::string& dir) {
  const std::vector<ArmResult> arms = read_run(dir, true);
  const std::vector<ArmGroup> groups = group_by_arm(arms);
  nlohmann::json data{{"title", fs::path(dir).filename().string()}, {"run_dir", dir}};
  if (std::ifstream summary{fs::path(dir) / "summary.md"}) {
    std::ostringstream text;
    text << summary.rdbuf();
    data["summary"] = text.str();
  }
  nlohmann::json rows = nlohmann::json::array(), curves = nlohmann::json::object(),
                 samples = nlohmann::json::array(), failures = nlohmann::json::array();
  for (const auto& g : groups) {
    nlohmann::json metrics = nlohmann::json::object();
    // [mean, std], and each complete seed's value in seed order where the table shows those.
    for (const auto& [name, stats] : g.metrics) {
      metrics[name] = {json_number(stats.first), json_number(stats.second)};
      const std::vector<double>& values = g.values.at(name);
      if (shows_each_seed(values.size())) {
        nlohmann::json seeds = nlohmann::json::array();
        for (double v : values) seeds.push_back(json_number(v));
        metrics[name].push_back(seeds);
      }
    }
    std::size_t complete = 0;
    for (const auto* r : g.runs) complete += r->status == "complete";
    const ArmResult& first = *g.runs.front();
    rows.push_back({{"id", first.id}, {"arm", nlohmann::json::parse(g.arm_json)}, {"metrics", metrics},
                    {"seeds", complete}});
    // Curves and samples of the group's first seed, as the Markdown report shows them.
    for (const auto& [name, values] : first.curves) curves[name].push_back({{"arm", first.id}, {"points", thinned(values)}});
    if (!first.samples.empty()) {
      nlohmann::json volumes = export_samples(dir, first);
      if (!volumes.empty()) samples.push_back({{"arm", first.id}, {"volumes", volumes}});
    }
  }
  for (const auto& a : arms)
    if (a.status != "complete") failures.push_back({{"id", a.id}, {"message", a.message}});
  data["arms"] = rows;
  data["curves"] = curves;
  data["samples"] = samples;
  data["failures"] = failures;
  data["provenance"] = arms.front().provenance_json.empty() ? nlohmann::json::object()
                                                            : nlohmann::json::parse(arms.front().provenance_json);
  return data;
}

// Text inside <script> ends at the first "</": JSON carries it as "<\/", which parses the same.
std::string script_safe(std::string text) {
  for (auto at = text.find("</"); at != std::string::npos; at = text.find("</", at + 3)) text.replace(at, 2, "<\\/");
  return text;
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace

std::string write_html_report(const std::string& dir) {
  const nlohmann::json data = page_data(dir);  // reads the run first: a bad RUN_DIR gets nothing written
  copy_vendored_scripts((fs::path(dir) / "report_files").string());
  std::ostringstream page;
  page << "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       << "<link rel=\"icon\" href=\"data:,\">\n"
       << "<title>whatif report: " << html_escape(data["title"].get<std::string>()) << "</title>\n"
       << "<style>\n" << report_style() << "</style>\n";
  for (const auto& s : vendored_scripts()) page << "<script src=\"report_files/" << s.file << "\"></script>\n";
  page << "</head>\n<body>\n<main id=\"report\"></main>\n"
       << "<script type=\"application/json\" id=\"whatif-data\">" << script_safe(data.dump()) << "</script>\n"
       << "<script>\n" << report_script() << "</script>\n"
       << "<script>\n" << playground_script() << "</script>\n</body>\n</html>\n";
  const fs::path path = fs::path(dir) / "report.html";
  write_text_atomically(path, page.str());
  return path.string();
}

}  // namespace whatif

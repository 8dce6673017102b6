#include "cli/results_command.hpp"

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <set>

#include <boost/program_options.hpp>
#include <nlohmann/json.hpp>

#include "cli/parse.hpp"
#include "cli/run_script.hpp"
#include "results/html_report.hpp"
#include "results/report.hpp"
#include "results/result_store.hpp"
#include "results/web_assets.hpp"
#include "whatif/registry/error.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace whatif {
namespace {

// Timings and memory depend on the machine's load, not on the computation: verify shows them but
// does not hold them to the tolerance.
bool is_timing(const std::string& name) {
  for (const char* suffix : {"_seconds", "_ms", "_mb"}) {
    const std::string s(suffix);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) return true;
  }
  return false;
}

// Names every plugin the original run loaded that this host does not have, with the library the
// original recorded, before the rerun fails on an unknown component.
void warn_missing_plugins(const nlohmann::json& provenance, const std::vector<std::string>& loaded_names) {
  if (!provenance.contains("plugins")) return;
  const std::set<std::string> loaded(loaded_names.begin(), loaded_names.end());
  for (const auto& plugin : provenance["plugins"]) {
    const std::string name = plugin.value("name", "");
    if (!name.empty() && !loaded.count(name))
      std::cerr << "verify: the original run loaded plugin '" << name << "' from "
                << plugin.value("library", std::string("?"))
                << ", which is not on this run's search path; pass --plugin-path with its folder\n";
  }
}

}  // namespace

int command_report(const std::vector<std::string>& args) {
  po::options_description options("report options");
  options.add_options()("run-dir", po::value<std::string>()->required(), "run directory of `whatif run`")(
      "html", "also write report.html: plots (Vega-Lite) and sample volumes (Niivue); opens from the file system");
  po::positional_options_description positional;
  positional.add("run-dir", 1);
  po::variables_map vm;
  if (!parse_command(args, "usage: whatif report RUN_DIR [--html]", options, positional, vm)) return 0;
  const std::string dir = vm["run-dir"].as<std::string>();
  if (vm.count("html")) require_vendored_scripts();  // before anything is written
  const std::string report = write_report(dir);
  std::cout << "wrote " << report << "\n";
  if (vm.count("html")) {
    const std::string page = write_html_report(dir);
    std::cout << "wrote " << page << "\n";
  }
  return 0;
}

int command_verify(const std::vector<std::string>& args) {
  po::options_description options("verify options");
  options.add_options()("script", po::value<std::string>()->required(), "experiment script (.lua)")(
      "against", po::value<std::string>()->required(), "run directory to compare with")(
      "tolerance", po::value<double>()->default_value(0.0), "largest absolute difference accepted")(
      "out", po::value<std::string>(), "where the rerun goes (default RUN_DIR-verify)")(
      "threads", po::value<int>(), "intra-op threads (default: as recorded, else cores)")(
      "plugin-path", po::value<std::vector<std::string>>()->composing(),
      "plugin folder or .so file the original run used (repeatable)")(
      "tolerance-from-seeds", po::value<double>(),
      "K: accept a difference within K sample standard deviations of the original run's seeds of "
      "the same arm (reruns on another machine; needs >= 2 seeds per arm)");
  add_script_limits(options);
  po::positional_options_description positional;
  positional.add("script", 1);
  po::variables_map vm;
  if (!parse_command(args, "usage: whatif verify SCRIPT --against RUN_DIR [--tolerance T | --tolerance-from-seeds K] [--plugin-path P]", options, positional, vm))
    return 0;
  const std::string against = vm["against"].as<std::string>();
  const double tolerance = vm["tolerance"].as<double>();
  const std::vector<ArmResult> original = read_run(against);

  ScriptArgs script;
  script.path = vm["script"].as<std::string>();
  const auto invocation = nlohmann::json::parse(original.front().invocation_json.empty() ? "{}" : original.front().invocation_json);
  if (invocation.contains("preset")) script.preset = invocation["preset"].get<std::string>();
  if (invocation.contains("sets")) script.sets = invocation["sets"].get<std::vector<std::string>>();
  script.run_dir = vm.count("out") ? vm["out"].as<std::string>() : against + "-verify";
  script.fresh = true;
  read_script_limits(vm, script);
  HostConfig config;
  const auto provenance = nlohmann::json::parse(original.front().provenance_json.empty() ? "{}" : original.front().provenance_json);
  if (vm.count("threads")) config.threads = vm["threads"].as<int>();
  else if (provenance.contains("threads")) config.threads = std::stoi(provenance["threads"].get<std::string>());
  if (vm.count("plugin-path")) config.plugin_paths = vm["plugin-path"].as<std::vector<std::string>>();
  std::vector<std::string> loaded;
  try {
    execute_script(script, config, &loaded);
  } catch (const Error&) {
    warn_missing_plugins(provenance, loaded);
    throw;
  }
  warn_missing_plugins(provenance, loaded);

  // Per arm and metric, the spread over the original's seeds: what a rerun elsewhere may differ by.
  std::map<std::string, double> seed_tolerance;
  if (vm.count("tolerance-from-seeds")) {
    const double k = vm["tolerance-from-seeds"].as<double>();
    if (!(k > 0)) throw UsageError("--tolerance-from-seeds takes a positive number of standard deviations");
    std::map<std::string, std::vector<double>> values;
    for (const auto& a : original)
      for (const auto& [name, value] : a.metrics)
        if (std::isfinite(value)) values[a.arm_json + "\n" + name].push_back(value);
    for (const auto& [key, v] : values) {
      if (v.size() < 2)
        throw Error("verify --tolerance-from-seeds: " + against + " holds one seed of an arm (" +
                    key.substr(0, key.find('\n')) + "); the spread needs at least 2 seeds per arm");
      double mean = 0, square = 0;
      for (const double x : v) mean += x / static_cast<double>(v.size());
      for (const double x : v) square += (x - mean) * (x - mean);
      seed_tolerance[key] = k * std::sqrt(square / static_cast<double>(v.size() - 1));
    }
  }

  const std::vector<ArmResult> rerun = read_run(script.run_dir);
  std::map<std::string, const ArmResult*> by_id;
  for (const auto& a : rerun) by_id[a.id] = &a;
  int beyond = 0, compared = 0;
  int metric_width = 8;
  for (const auto& a : original)
    for (const auto& [name, value] : a.metrics) metric_width = std::max(metric_width, static_cast<int>(name.size()) + 2);
  std::cout << std::left << std::setw(48) << "arm" << std::setw(metric_width) << "metric" << std::setw(16)
            << "original" << std::setw(16) << "rerun" << "difference\n";
  for (const auto& a : original) {
    const auto it = by_id.find(a.id);
    if (it == by_id.end()) {
      std::cout << std::setw(48) << a.id << "missing from the rerun\n";
      ++beyond;
      continue;
    }
    for (const auto& [name, value] : a.metrics) {
      if (is_timing(name)) {
        std::cout << std::setw(48) << a.id << std::setw(metric_width) << name << std::setw(16) << value
                  << "(timing: reported, not compared)\n";
        continue;
      }
      ++compared;
      const auto m = it->second->metrics.find(name);
      const bool present = m != it->second->metrics.end();
      const double other = present ? m->second : NAN;
      // Equal values agree, infinities of one sign (the PSNR of identical twins) and NaN in both
      // runs included; a missing metric never does.
      const bool same = present && (other == value || (std::isnan(other) && std::isnan(value)));
      const double diff = same ? 0.0 : std::abs(other - value);
      const auto spread = seed_tolerance.find(a.arm_json + "\n" + name);
      const double allowed = spread == seed_tolerance.end() ? tolerance : std::max(tolerance, spread->second);
      const bool bad = !same && !(diff <= allowed);
      beyond += bad;
      std::cout << std::setw(48) << a.id << std::setw(metric_width) << name << std::setw(16) << value
                << std::setw(16) << other << diff;
      if (spread != seed_tolerance.end()) std::cout << "  (seeds allow " << allowed << ")";
      std::cout << (bad ? "  BEYOND TOLERANCE" : "") << "\n";
    }
  }
  std::cout << "verify: " << compared << " metric(s) compared, " << beyond << " beyond tolerance ";
  if (seed_tolerance.empty()) std::cout << tolerance << "\n";
  else std::cout << vm["tolerance-from-seeds"].as<double>() << " seed std\n";
  return beyond == 0 ? 0 : 1;
}

}  // namespace whatif

#include "results/result_store.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "results/geometry_json.hpp"
#include "train/checkpoint.hpp"
#include "util/hash.hpp"
#include "whatif/registry/error.hpp"

namespace whatif {
namespace fs = std::filesystem;

std::string fnv1a_hex(const std::string& text) { return hex(fnv1a(text)); }

void write_arm(const std::string& dir, const ArmResult& arm) {
  Checkpoint c;
  for (const auto& [name, value] : arm.metrics)
    c.groups["metrics"].emplace_back(name, at::scalar_tensor(value, at::kDouble));
  for (const auto& [name, values] : arm.curves)
    c.groups["curves"].emplace_back(name, at::tensor(values, at::kDouble));
  nlohmann::json sample_order = nlohmann::json::array();
  for (const auto& [name, tensor] : arm.samples) {
    c.groups["samples"].emplace_back(name, tensor);
    sample_order.push_back(name);
  }
  // HDF5 lists a group's members by name; the order the script stored them in is kept here.
  c.strings["sample_order"] = sample_order.dump();
  if (!arm.sample_notes.empty()) c.strings["sample_notes"] = nlohmann::json(arm.sample_notes).dump();
  if (!arm.sample_truths.empty()) c.strings["sample_truths"] = nlohmann::json(arm.sample_truths).dump();
  if (!arm.sample_geometry.empty()) {
    nlohmann::json geometry = nlohmann::json::object();
    for (const auto& [name, g] : arm.sample_geometry) geometry[name] = geometry_json(g);
    c.strings["sample_geometry"] = geometry.dump();
  }
  c.strings["format"] = "whatif-arm-1";
  c.strings["id"] = arm.id;
  c.strings["config"] = arm.config_json;
  c.strings["config_hash"] = arm.config_hash;
  c.strings["arm"] = arm.arm_json;
  c.strings["status"] = arm.status;
  c.strings["message"] = arm.message;
  c.strings["traceback"] = arm.traceback;
  c.strings["provenance"] = arm.provenance_json;
  c.strings["invocation"] = arm.invocation_json;
  c.strings["started"] = std::to_string(arm.started);
  c.strings["finished"] = std::to_string(arm.finished);
  c.integers["seed"] = arm.seed;
  write_checkpoint((fs::path(dir) / (arm.id + ".h5")).string(), c);
}

ArmResult read_arm(const std::string& path, bool with_samples) {
  const Checkpoint c = read_checkpoint(path);
  const auto string = [&](const char* key) {
    const auto it = c.strings.find(key);
    return it == c.strings.end() ? std::string() : it->second;
  };
  if (string("format") != "whatif-arm-1") throw Error(path + ": not a whatif result file");
  ArmResult arm;
  arm.id = string("id");
  arm.config_json = string("config");
  arm.config_hash = string("config_hash");
  arm.arm_json = string("arm");
  arm.status = string("status");
  arm.message = string("message");
  arm.traceback = string("traceback");
  arm.provenance_json = string("provenance");
  arm.invocation_json = string("invocation");
  arm.started = string("started").empty() ? 0 : std::stod(string("started"));
  arm.finished = string("finished").empty() ? 0 : std::stod(string("finished"));
  arm.seed = c.integers.count("seed") ? c.integers.at("seed") : 0;
  if (const auto it = c.groups.find("metrics"); it != c.groups.end())
    for (const auto& [name, t] : it->second) arm.metrics[name] = t.item<double>();
  if (const auto it = c.groups.find("curves"); it != c.groups.end())
    for (const auto& [name, t] : it->second) {
      const at::Tensor d = t.to(at::kDouble).contiguous();
      arm.curves[name].assign(d.data_ptr<double>(), d.data_ptr<double>() + d.numel());
    }
  if (with_samples)
    if (const auto it = c.groups.find("samples"); it != c.groups.end()) {
      arm.samples = it->second;
      const std::string order = string("sample_order");
      const auto parsed = nlohmann::json::parse(order, nullptr, false);
      if (parsed.is_array() && std::all_of(parsed.begin(), parsed.end(), [](const auto& n) { return n.is_string(); })) {
        const auto names = parsed.get<std::vector<std::string>>();
        const auto rank = [&](const std::string& name) {
          return std::find(names.begin(), names.end(), name) - names.begin();
        };
        std::stable_sort(arm.samples.begin(), arm.samples.end(),
                         [&](const auto& a, const auto& b) { return rank(a.first) < rank(b.first); });
      }
      for (auto [key, texts] : {std::pair{"sample_notes", &arm.sample_notes}, std::pair{"sample_truths", &arm.sample_truths}}) {
        const auto parsed_texts = nlohmann::json::parse(string(key), nullptr, false);
        if (parsed_texts.is_object())
          for (const auto& [name, text] : parsed_texts.items())
            if (text.is_string()) (*texts)[name] = text.get<std::string>();
      }
      // Geometry decides where a sample sits in space: a malformed record is an error, not 1 mm.
      const auto geometry = nlohmann::json::parse(string("sample_geometry"), nullptr, false);
      if (geometry.is_object())
        for (const auto& [name, g] : geometry.items())
          arm.sample_geometry[name] = geometry_from_json(g, path + ": sample '" + name + "'");
      else if (!string("sample_geometry").empty())
        throw Error(path + ": its sample_geometry record is not a JSON object; rerun the arm with --fresh");
    }
  return arm;
}

std::vector<ArmResult> read_run(const std::string& dir, bool with_samples) {
  if (!fs::is_directory(dir)) throw Error(dir + ": no such run directory");
  std::vector<std::string> paths;
  for (const auto& item : fs::directory_iterator(dir))
    if (item.path().extension() == ".h5") paths.push_back(item.path().string());
  std::sort(paths.begin(), paths.end());
  std::vector<ArmResult> arms;
  for (const auto& p : paths) {
    // Scripts may keep other HDF5 files (saved models) beside the results: only arms count.
    const Checkpoint head = read_checkpoint(p);
    const auto format = head.strings.find("format");
    if (format == head.strings.end() || format->second != "whatif-arm-1") continue;
    arms.push_back(read_arm(p, with_samples));
  }
  if (arms.empty()) throw Error(dir + ": holds no arm results (*.h5); run an experiment into it first");
  return arms;
}

}  // namespace whatif

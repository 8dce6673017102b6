#include "results/run_header.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "util/progress.hpp"

namespace whatif {
namespace {

std::string text(const nlohmann::json& j, const char* key) {
  if (!j.contains(key)) return "";
  return j[key].is_string() ? j[key].get<std::string>() : j[key].dump();
}

nlohmann::json parse_or_empty(const std::string& s) {
  if (s.empty()) return nlohmann::json::object();
  auto j = nlohmann::json::parse(s, nullptr, false);
  return j.is_object() ? j : nlohmann::json::object();
}

// A shell word as typed: quoted when it holds anything a shell would split or expand.
std::string shell_word(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=,:+") ==
                           std::string::npos)
    return word;
  std::string quoted = "'";
  for (const char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string machine_of(const nlohmann::json& prov) {
  std::string cpu = text(prov, "cpu");
  if (cpu.empty()) cpu = "CPU not recorded (cpu capability " + text(prov, "cpu capability") + ")";
  const std::string threads = text(prov, "threads");
  std::string m = cpu + ", " + threads + (threads == "1" ? " thread" : " threads");
  if (!text(prov, "bf16 autocast").empty()) m += ", bf16 autocast " + text(prov, "bf16 autocast");
  if (!text(prov, "host").empty()) m += ", host " + text(prov, "host");
  return m;
}

}  // namespace

RunHeader run_header(const std::vector<ArmResult>& arms) {
  RunHeader h;
  if (arms.empty()) return h;
  const nlohmann::json prov = parse_or_empty(arms.front().provenance_json);
  const nlohmann::json inv = parse_or_empty(arms.front().invocation_json);
  h.command = "whatif run " + shell_word(text(prov, "script").empty() ? "SCRIPT" : text(prov, "script"));
  if (inv.contains("preset") && inv["preset"].is_string() && !inv["preset"].get<std::string>().empty())
    h.command += " --preset " + shell_word(inv["preset"].get<std::string>());
  if (inv.contains("sets") && inv["sets"].is_array())
    for (const auto& s : inv["sets"])
      if (s.is_string()) h.command += " --set " + shell_word(s.get<std::string>());
  h.commit = text(prov, "commit") + " (whatif " + text(prov, "whatif") + ")";
  h.machine = machine_of(prov);

  double first = INFINITY, last = -INFINITY;
  std::set<std::int64_t> seeds;
  for (const auto& a : arms) {
    if (a.started > 0 && a.finished >= a.started) {
      first = std::min(first, a.started);
      last = std::max(last, a.finished);
      h.arm_seconds += a.finished - a.started;
    }
    seeds.insert(a.seed);
    const nlohmann::json p = parse_or_empty(a.provenance_json);
    if (text(p, "commit") != text(prov, "commit") || machine_of(p) != h.machine) h.mixed = true;
  }
  h.wall_seconds = std::isfinite(first) ? last - first : 0;
  h.seeds.assign(seeds.begin(), seeds.end());
  return h;
}

std::string RunHeader::markdown() const {
  std::string seed_list;
  for (const auto s : seeds) seed_list += (seed_list.empty() ? "" : ", ") + std::to_string(s);
  std::string md = "- command: `" + command + "`\n- commit: " + commit + "\n- machine: " + machine +
                   "\n- wall time: " + format_duration(wall_seconds) + " (first arm start to last arm end; " +
                   format_duration(arm_seconds) + " summed over arms)\n- seeds: " + std::to_string(seeds.size()) +
                   " (" + seed_list + ")\n";
  if (mixed) md += "- note: the arms come from more than one commit or machine; see each arm's provenance\n";
  return md;
}

}  // namespace whatif

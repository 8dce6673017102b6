#include "results/experiment_runner.hpp"

#include <chrono>
#include <fstream>
#include <cctype>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "host/environment.hpp"
#include "host/host.hpp"
#include "train/distributed.hpp"
#include "util/log.hpp"

namespace whatif {
namespace fs = std::filesystem;
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

nlohmann::json json_of(const ArmFields& fields) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : fields) j[k] = nlohmann::json::parse(to_json(v));
  return j;
}

std::string slug(const Value& v) {
  const std::string text = std::holds_alternative<std::string>(v) ? std::get<std::string>(v) : to_json(v);
  std::string out;
  for (const char c : text) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
  return out;
}

std::string provenance(const Host& host, const RunnerSettings& settings, double started) {
  const Environment env = describe_environment();
  nlohmann::json p;
  for (const auto& [k, v] : env.rows()) p[k] = v;
  nlohmann::json plugins = nlohmann::json::array();
  for (const auto& plugin : host.registry().plugins())
    plugins.push_back({{"name", plugin.name}, {"version", plugin.version}, {"library", plugin.library},
                       {"interface_hash", plugin.interface_hash}});
  p["plugins"] = plugins;
  p["device"] = host.device().str();
  p["started"] = started;
  p["script"] = settings.script_path;
  p["sources"] = nlohmann::json::parse(settings.sources_json);
  return p.dump();
}

}  // namespace

ArmError::~ArmError() = default;

std::string arm_id(const std::string& experiment, const ArmFields& fields, std::int64_t seed) {
  std::string id = experiment;
  for (const auto& [k, v] : fields) id += "-" + k + "=" + slug(v);
  return id + "-seed" + std::to_string(seed);
}

std::string arm_config_json(const std::string& experiment, const RunnerSettings& settings, const Host& host,
                            const ArmFields& fields, std::int64_t seed) {
  nlohmann::json plugins = nlohmann::json::object();
  for (const auto& plugin : host.registry().plugins()) plugins[plugin.name] = plugin.version;
  return nlohmann::json{{"experiment", experiment},
                        {"params", nlohmann::json::parse(settings.params_json)},
                        {"arm", json_of(fields)},
                        {"seed", seed},
                        {"sources", nlohmann::json::parse(settings.sources_json)},
                        {"plugins", plugins}}
      .dump();
}

std::string stale_reason(const std::string& earlier_config_json, const std::string& config_json) {
  const auto earlier = nlohmann::json::parse(earlier_config_json, nullptr, false);
  const auto now = nlohmann::json::parse(config_json);
  if (earlier.is_discarded() || !earlier.is_object()) return "an unreadable config";
  static const std::pair<const char*, const char*> parts[] = {
      {"params", "the parameters"}, {"arm", "the arm's values"}, {"seed", "the seed"},
      {"sources", "the text of the script or a module it requires"}, {"plugins", "plugin versions"}};
  std::string reason;
  for (const auto& [key, words] : parts)
    if (!earlier.contains(key) || earlier[key] != now[key]) reason += std::string(reason.empty() ? "" : ", ") + words;
  return reason.empty() ? "another config" : reason;
}

ExperimentRunner::ExperimentRunner(RunnerSettings settings, const Host& host)
    : settings_(std::move(settings)), host_(host) {
  if (settings_.shard_count < 1 || settings_.shard_index < 0 || settings_.shard_index >= settings_.shard_count)
    throw Error("shard " + std::to_string(settings_.shard_index) + "/" + std::to_string(settings_.shard_count) +
                ": expected 0 <= i < N");
  if (const DataParallel* group = DataParallel::current()) settings_.rank = group->rank();
}

std::vector<ArmOutcome> ExperimentRunner::run(const Experiment& experiment, const ArmBody& body) {
  for (const char c : experiment.name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'))
      throw Error("whatif.experiment: name '" + experiment.name + "' may hold letters, digits, '_' and '-' only");
  if (experiment.name.empty()) throw Error("whatif.experiment: the name is empty");
  fs::create_directories(settings_.run_dir);
  std::vector<ArmOutcome> outcomes;
  std::int64_t index = 0;
  for (std::size_t arm = 0; arm < experiment.arms.size(); ++arm)
    for (const std::int64_t seed : experiment.seeds)
      if (index++ % settings_.shard_count == settings_.shard_index)
        outcomes.push_back(run_one(experiment, arm, seed, body));
  logger()->info("experiment {}: {} ran, {} skipped (complete), {} failed; results in {}", experiment.name, ran_,
                 skipped_, failed_, settings_.run_dir);
  return outcomes;
}

ArmOutcome ExperimentRunner::run_one(const Experiment& experiment, std::size_t arm_index, std::int64_t seed,
                                     const ArmBody& body) {
  const ArmFields& fields = experiment.arms[arm_index];
  ArmOutcome outcome;
  outcome.arm = arm_index;
  ArmResult& arm = outcome.result;
  arm.id = arm_id(experiment.name, fields, seed);
  arm.seed = seed;
  arm.arm_json = json_of(fields).dump();
  arm.config_json = arm_config_json(experiment.name, settings_, host_, fields, seed);
  arm.config_hash = fnv1a_hex(arm.config_json);
  arm.invocation_json = settings_.invocation_json;
  const fs::path file = fs::path(settings_.run_dir) / (arm.id + ".h5");
  const fs::path work = fs::absolute(fs::path(settings_.run_dir) / arm.id);
  if (settings_.fresh && writes_results()) {
    fs::remove(file);
    fs::remove_all(work);
  }
  if (fs::exists(file)) {
    ArmResult previous = read_arm(file.string());
    if (previous.status == "complete" && previous.config_hash == arm.config_hash) {
      logger()->info("[{}] complete, skipped", arm.id);
      arm = std::move(previous);
      outcome.skipped = true;
      ++skipped_;
      return outcome;
    }
    if (previous.config_hash != arm.config_hash)
      logger()->warn("[{}] earlier result is stale ({} changed); running again", arm.id,
                     stale_reason(previous.config_json, arm.config_json));
  }
  // The work folder (checkpoints, tokenizers) belongs to one config: an interrupted arm resumes
  // from it only when its config is the same, so an edited script never resumes a stale checkpoint.
  const fs::path stamp = work / "config_hash";
  if (fs::exists(stamp)) {
    std::ifstream in(stamp);
    std::string earlier;
    in >> earlier;
    if (earlier != arm.config_hash && writes_results()) {
      logger()->warn("[{}] work folder belongs to another config; starting the arm afresh", arm.id);
      fs::remove_all(work);
    }
  }
  fs::create_directories(work);
  if (writes_results() && !fs::exists(stamp)) std::ofstream(stamp) << arm.config_hash << "\n";
  arm.started = now_seconds();
  at::manual_seed(static_cast<std::uint64_t>(seed));
  logger()->info("[{}] running", arm.id);
  ArmRun run{fields, arm_index, seed, arm.id, work, work / "checkpoint.h5", arm};
  try {
    arm.metrics = body(run);
    arm.status = "complete";
    ++ran_;
  } catch (const ArmError& e) {
    arm.status = "failed";
    arm.message = e.what();
    arm.traceback = e.traceback();
    ++failed_;
    logger()->error("[{}] failed: {}", arm.id, e.what());
  } catch (const std::exception& e) {
    arm.status = "failed";
    arm.message = e.what();
    ++failed_;
    logger()->error("[{}] failed: {}", arm.id, e.what());
  }
  arm.finished = now_seconds();
  arm.provenance_json = provenance(host_, settings_, arm.started);
  if (writes_results()) write_arm(settings_.run_dir, arm);
  return outcome;
}

}  // namespace whatif

#pragma once
// The sweep runner behind whatif.experiment (DESIGN.md §9): arms × seeds, each arm × seed one HDF5
// result file in the run directory. It owns the arm ids, sharding (`--shard i/N`), skipping complete
// arms whose config hash matches, running the rest with failures isolated (an arm that throws is
// recorded as failed and the others go on), provenance, and the result write. It knows nothing of
// Lua: the binding converts tables and gives a body to run per arm. `verify` reruns scripts through
// the same runner.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "results/result_store.hpp"
#include "whatif/registry/error.hpp"
#include "whatif/registry/options.hpp"

namespace whatif {

class Host;

using ArmFields = std::vector<std::pair<std::string, Value>>;  // one arm's parameters, by name

struct Experiment {
  std::string name;                  // letters, digits, '_' and '-'
  std::vector<ArmFields> arms;       // {{}} for a single arm
  std::vector<std::int64_t> seeds;   // {0} by default
};

struct RunnerSettings {
  std::string run_dir;
  std::int64_t shard_index = 0, shard_count = 1;
  bool fresh = false;                // discard earlier results of the arms this shard runs
  std::string params_json = "{}";    // the script's resolved parameters
  std::string invocation_json = "{}";  // preset and --set values, for `whatif verify`
  std::string sources_json = "{}";   // hash of the script and of every module it required, by name
  std::string script_path;           // recorded in provenance
  int rank = 0;                      // of a data-parallel run: only rank 0 writes results
};

// What the body of one arm × seed gets: its parameters, seed, id and working folder; it fills
// `result` (curves, samples) and returns the metrics.
struct ArmRun {
  const ArmFields& fields;
  std::size_t arm;  // index into Experiment::arms
  std::int64_t seed;
  const std::string& id;
  std::filesystem::path dir;         // <run_dir>/<id>/, created
  std::filesystem::path checkpoint;  // <dir>/checkpoint.h5
  ArmResult& result;
};
using ArmBody = std::function<std::map<std::string, double>(ArmRun& run)>;

// A failure with the script's traceback, where the body has one.
class ArmError : public Error {
 public:
  ArmError(const std::string& message, std::string traceback) : Error(message), traceback_(std::move(traceback)) {}
  ~ArmError() override;
  const std::string& traceback() const { return traceback_; }

 private:
  std::string traceback_;
};

struct ArmOutcome {
  std::size_t arm = 0;  // index into Experiment::arms
  ArmResult result;
  bool skipped = false;  // complete before this run
};

class ExperimentRunner {
 public:
  ExperimentRunner(RunnerSettings settings, const Host& host);

  // Runs this shard's arm × seed pairs in order (arms outer, seeds inner).
  std::vector<ArmOutcome> run(const Experiment& experiment, const ArmBody& body);

  std::int64_t ran() const { return ran_; }
  std::int64_t skipped() const { return skipped_; }
  std::int64_t failed() const { return failed_; }
  // The one place that decides who writes results: rank 0 of a data-parallel run.
  bool writes_results() const { return settings_.rank == 0; }

 private:
  ArmOutcome run_one(const Experiment& experiment, std::size_t arm, std::int64_t seed, const ArmBody& body);

  RunnerSettings settings_;
  const Host& host_;
  std::int64_t ran_ = 0, skipped_ = 0, failed_ = 0;
};

// "<experiment>-<k>=<v>...-seed<S>", values reduced to letters, digits, '.', '-' and '_'.
std::string arm_id(const std::string& experiment, const ArmFields& fields, std::int64_t seed);
// The resolved config an arm's identity hashes: experiment, params, arm, seed, the script's and its
// modules' text hashes, and the versions of the loaded plugins.
std::string arm_config_json(const std::string& experiment, const RunnerSettings& settings, const Host& host,
                            const ArmFields& fields, std::int64_t seed);
// Why an earlier result's config differs from this one: "the parameters, the script's text" …
std::string stale_reason(const std::string& earlier_config_json, const std::string& config_json);

}  // namespace whatif

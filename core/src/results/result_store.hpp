#pragma once
// A run directory holds one HDF5 file per arm (DESIGN.md §9): written to a temporary name and
// renamed when complete, so a crash never leaves a file that looks finished. Each file keeps the
// resolved config (JSON) and its hash, the seed, the status, metrics, loss curves, sample volumes
// and provenance.
#include <map>
#include <string>
#include <vector>

#include "whatif/data/volume.hpp"
#include "whatif/tensor.hpp"

namespace whatif {

struct ArmResult {
  std::string id;            // file stem: "<experiment>-<k=v>...-seed<S>"
  std::string config_json;   // params + arm + seed, resolved
  std::string config_hash;   // FNV-1a 64 of config_json, hex
  std::string arm_json;      // the arm's own parameters (what differs between arms)
  std::int64_t seed = 0;
  std::string status;        // complete | failed
  std::string message;       // failure message
  std::string traceback;
  std::string provenance_json;
  std::string invocation_json;  // preset and --set values of the run, for `whatif verify`
  std::map<std::string, double> metrics;
  std::map<std::string, std::vector<double>> curves;
  NamedTensors samples;
  std::map<std::string, std::string> sample_notes;   // what a sample shows (its prompt)
  std::map<std::string, std::string> sample_truths;  // the ground-truth change it should show
  std::map<std::string, data::Geometry> sample_geometry;  // its grid (absent: 1 mm at the origin)
  double started = 0, finished = 0;  // seconds since the epoch
};

std::string fnv1a_hex(const std::string& text);

// Writes `<dir>/<id>.h5` atomically.
void write_arm(const std::string& dir, const ArmResult& arm);
// Reads one arm file (samples are loaded only when `with_samples`).
ArmResult read_arm(const std::string& path, bool with_samples = false);
// Every complete or failed arm file in `dir`, sorted by id.
std::vector<ArmResult> read_run(const std::string& dir, bool with_samples = false);

}  // namespace whatif

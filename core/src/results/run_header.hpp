#pragma once
// Where a run's numbers came from, in one paragraph a table in the docs can copy: the exact
// command, the commit, the machine (CPU and its bf16-relevant flags, threads), the wall time and
// the seeds. Read from the arms' provenance and invocation records.
#include <string>
#include <vector>

#include "results/result_store.hpp"

namespace whatif {

struct RunHeader {
  std::string command;  // "whatif run SCRIPT [--preset P] [--set k=v ...]"
  std::string commit;   // whatif version and git commit of the first arm
  std::string machine;  // CPU, threads, host
  double wall_seconds = 0;       // first start to last finish
  double arm_seconds = 0;        // sum over arms
  std::vector<std::int64_t> seeds;
  bool mixed = false;   // arms came from more than one commit or machine

  std::string markdown() const;
};

RunHeader run_header(const std::vector<ArmResult>& arms);

}  // namespace whatif

#pragma once
// `whatif submit SCRIPT --slurm`: a sweep as a Slurm job array, one task per shard of the arms.
#include <string>
#include <vector>

namespace whatif {

struct SlurmSubmission {
  std::string whatif;      // absolute path of the executable the tasks run
  std::string script;      // absolute path of the experiment script
  std::string run_dir;     // absolute; shared by every task
  int array = 1;           // tasks = shards
  std::string partition, time;
  int gpus_per_task = 0, cpus_per_task = 1;
  std::vector<std::string> run_options;  // passed on to `whatif run` (--set, --preset, --plugin-path)
};

// The sbatch script: an array of `array` tasks, task i running `whatif run --shard i/array`.
std::string slurm_array_script(const SlurmSubmission& s);

int command_submit(const std::vector<std::string>& args);

}  // namespace whatif

#pragma once
// `whatif run --nproc N`: starts N local ranks of one data-parallel job, the way
// `torchrun --standalone --nproc-per-node N` does, and ends them all when one fails.
#include <string>
#include <vector>

namespace whatif {

// Runs `whatif run <run_args>` N times with RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
// MASTER_ADDR=127.0.0.1 and a free MASTER_PORT, each with cores / N threads unless --threads or
// WHATIF_THREADS says otherwise. Returns 0 when every rank succeeded; otherwise prints one line
// naming the rank that failed first, stops the others and returns 1.
int launch_local_ranks(int nproc, const std::vector<std::string>& run_args);

// The path of the running executable, for starting more of it.
std::string self_executable();

}  // namespace whatif

#pragma once
// Data-parallel training over c10d process groups (Gloo): where this process sits in a job (the
// environment torchrun, Slurm and `whatif run --nproc` set), the process group, and the few
// collectives the trainer needs. Single-process runs never create a group: DataParallel::current()
// is null and nothing here costs anything.
//
// Failure model: every collective has a timeout (WHATIF_DIST_TIMEOUT seconds, default 300). A rank
// that dies closes its sockets, so the others fail at their next collective at once; a rank that
// hangs makes them fail after the timeout. Either way the survivors print one line naming
// themselves and the step and exit with kLostRankExit, which the launcher uses to tell the rank
// that died first from the ones that stopped because of it.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

namespace whatif {

constexpr int kLostRankExit = 3;

// Where this process sits in a data-parallel job.
struct RankEnvironment {
  int rank = 0, world = 1;
  int local_rank = 0, local_world = 1;  // ranks on this machine
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string source = "single process";  // or "torchrun variables", "Slurm"
};

using EnvironmentReader = std::function<const char*(const char*)>;

// RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT (torchrun's variables;
// also what `whatif run --nproc` sets), else SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID,
// SLURM_NTASKS_PER_NODE with the first node of SLURM_JOB_NODELIST as master and port 20000 +
// SLURM_JOB_ID mod 10000 unless MASTER_PORT is set. Bad values throw one line naming the variable.
RankEnvironment rank_environment(const EnvironmentReader& getenv);
RankEnvironment rank_environment();

// The first host of a Slurm node list: "gpu[07-09,12],cpu3" → "gpu07".
std::string first_slurm_node(const std::string& nodelist);

// WHATIF_DIST_TIMEOUT (seconds, default 300): every collective and the rendezvous give up after it.
std::chrono::milliseconds collective_timeout();

// Threads per rank so the ranks on one machine share its cores instead of oversubscribing them:
// cores / local ranks (at least 1), or SLURM_CPUS_PER_TASK under Slurm.
int threads_per_rank(const RankEnvironment& env, int cores);

// Prints "error: rank R: <message>" and ends the process with kLostRankExit. For failures that
// leave the job's ranks out of step: there is no way to go on alone.
[[noreturn]] void stop_rank(int rank, const std::string& message);

class DataParallel {
 public:
  // The process group of this process, or null in a single-process run.
  static DataParallel* current();
  // Joins the job described by `env` (a no-op for world 1). Throws one line when the rendezvous
  // fails: master unreachable, world sizes that disagree, a rank claimed twice, a timeout.
  static void start(const RankEnvironment& env);

  int rank() const { return rank_; }
  int world() const { return world_; }

  // Overwrites `tensors` (same shapes on every rank) with rank 0's.
  void broadcast(const std::vector<at::Tensor>& tensors, const std::string& what);
  // Sums `tensors` over ranks in place, concurrently: after the backward pass, gradient buckets.
  void all_reduce_sum(const std::vector<at::Tensor>& tensors, const std::string& what);
  // True when `value` is the same on every rank (a max/min all-reduce).
  bool same_everywhere(std::int64_t value, const std::string& what);

  ~DataParallel();

 private:
  struct Group;
  DataParallel(int rank, int world, std::unique_ptr<Group> group);

  int rank_, world_;
  std::unique_ptr<Group> group_;
};

// Sums the gradients of `params` over ranks together with `scalars` (a 1-D float64 tensor summed in
// the same pass). Gradients go in buckets of at most 25 MB of one dtype; a gradient a rank does not
// have counts as zero there, and stays undefined only where no rank has one (so AdamW skips exactly
// the parameters a single process would skip).
void all_reduce_gradients(DataParallel& group, const std::vector<at::Tensor>& params, at::Tensor& scalars,
                          const std::string& what);

}  // namespace whatif

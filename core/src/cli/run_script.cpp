#include "cli/run_script.hpp"

#include <filesystem>
#include <memory>

#include <spdlog/sinks/sink.h>
#include <spdlog/spdlog.h>

#include "results/run_lock.hpp"
#include "train/distributed.hpp"
#include "util/log.hpp"

namespace whatif {

void execute_script(const ScriptArgs& script, const HostConfig& config, std::vector<std::string>* loaded_plugins) {
  namespace fs = std::filesystem;
  if (!fs::is_regular_file(script.path)) throw Error(script.path + ": no such script");
  // A data-parallel rank (RANK/WORLD_SIZE, Slurm, or `whatif run --nproc`): every rank runs the
  // script; training shares the work, and rank 0 alone writes checkpoints, results and whatif.log.
  const RankEnvironment ranks = script.dry_run ? RankEnvironment{} : rank_environment();
  if (ranks.world > 1 && script.fresh)
    throw Error("--fresh with " + std::to_string(ranks.world) + " data-parallel ranks: the ranks could not agree "
                "on what it discarded; remove the run directory (or its arm results) instead");
  HostConfig host_config = config;
  if (ranks.world > 1 && host_config.threads == 0 && !std::getenv("WHATIF_THREADS"))
    host_config.threads = threads_per_rank(ranks, core_count());
  Host host(host_config);
  if (ranks.world > 1 && !host.device().is_cpu())
    throw Error("data-parallel training runs on CPU tensors over Gloo; NCCL for " + host.device().str() +
                " is not implemented (drop --device, or run one process per device)");
  if (loaded_plugins)
    for (const auto& plugin : host.registry().plugins()) loaded_plugins->push_back(plugin.name);
  std::unique_ptr<RunLock> lock;
  if (!script.dry_run) {
    // Shards of a Slurm array share the run directory and write disjoint arms: each locks its own
    // shard, so two copies of one shard are still refused.
    const fs::path lock_dir = script.shard_count > 1 ? fs::path(script.run_dir) / ".shards" /
                                                           (std::to_string(script.shard_index) + "-of-" +
                                                            std::to_string(script.shard_count))
                                                     : fs::path(script.run_dir);
    if (ranks.rank == 0) lock = std::make_unique<RunLock>(lock_dir.string());
    if (ranks.rank == 0) {
      log_to_file((fs::path(script.run_dir) / "whatif.log").string());
    } else {
      // Other ranks log in full to their own file and only warnings to the console.
      logger()->sinks().front()->set_level(spdlog::level::warn);
      log_to_file((fs::path(script.run_dir) / ("whatif.rank" + std::to_string(ranks.rank) + ".log")).string());
    }
    logger()->info("run {} -> {} ({} threads, {})", script.path, script.run_dir, host.threads(),
                   host.device().str());
    DataParallel::start(ranks);
  }
  Script(host, script).run();
}

}  // namespace whatif

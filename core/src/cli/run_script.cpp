#include "cli/run_script.hpp"

#include <filesystem>
#include <memory>

#include <spdlog/spdlog.h>

#include "results/run_lock.hpp"
#include "util/log.hpp"

namespace whatif {

void execute_script(const ScriptArgs& script, const HostConfig& config, std::vector<std::string>* loaded_plugins) {
  namespace fs = std::filesystem;
  if (!fs::is_regular_file(script.path)) throw Error(script.path + ": no such script");
  Host host(config);
  if (loaded_plugins)
    for (const auto& plugin : host.registry().plugins()) loaded_plugins->push_back(plugin.name);
  std::unique_ptr<RunLock> lock;
  if (!script.dry_run) {
    lock = std::make_unique<RunLock>(script.run_dir);
    log_to_file((fs::path(script.run_dir) / "whatif.log").string());
    logger()->info("run {} -> {} ({} threads, {})", script.path, script.run_dir, host.threads(),
                   host.device().str());
  }
  Script(host, script).run();
}

}  // namespace whatif

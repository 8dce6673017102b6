#pragma once
// The host runtime: thread count, device, and the plugin registry filled from the search path
// (the build's plugin folder, then $WHATIF_PLUGIN_PATH, then --plugin-path).
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "whatif/registry/registry.hpp"

namespace whatif {

struct HostConfig {
  int threads = 0;             // 0 = default_threads() (LibTorch's own default is 1)
  std::string device = "cpu";  // cpu | cuda
  std::vector<std::string> plugin_paths;  // --plugin-path entries (folders or .so files)
};

class Host {
 public:
  explicit Host(const HostConfig& config);

  Registry& registry() { return registry_; }
  const Registry& registry() const { return registry_; }
  int threads() const { return threads_; }
  const c10::Device& device() const { return device_; }
  const std::vector<std::string>& search_path() const { return search_path_; }

 private:
  Registry registry_;
  int threads_;
  c10::Device device_;
  std::vector<std::string> search_path_;
};

// The plugin search path without --plugin-path entries.
std::vector<std::string> default_plugin_path();
// Folder of the `scripts/` Lua library (source tree, or the installed share folder).
std::string scripts_dir();
// CPUs this process may use: its affinity mask (taskset, Slurm, cpusets), capped by its cgroup's
// CPU quota (containers, systemd slices).
int core_count();
// Threads when --threads is not given: $WHATIF_THREADS, else core_count().
int default_threads();
// Makes glibc keep freed memory for reuse instead of returning it to the kernel. LibTorch's CPU
// allocator is plain malloc, and glibc serves blocks above 32 MB (a 64³ activation) with a fresh
// mmap each time, so every step page-faults its activations in again: measured, a 64³ U-Net
// training step went from 12.2 s to 5.1 s (peak RSS 4.9 → 7.4 GB). The Host calls it; so do the
// benchmarks. It does nothing when glibc's own malloc tunables are set in the environment.
void keep_freed_memory();

}  // namespace whatif

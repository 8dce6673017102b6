#include "host/host.hpp"

#include <dlfcn.h>
#include <malloc.h>
#include <sched.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <ATen/Context.h>
#include <ATen/Parallel.h>

#include "whatif/registry/error.hpp"

namespace whatif {
namespace fs = std::filesystem;
namespace {

fs::path library_dir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&core_count), &info) && info.dli_fname)
    return fs::weakly_canonical(info.dli_fname).parent_path();
  return {};
}

void add_entry(Registry& registry, const std::string& entry, const std::string& origin) {
  if (entry.empty()) return;
  if (fs::is_directory(entry)) {
    registry.load_directory(entry);
  } else if (fs::is_regular_file(entry)) {
    registry.load(entry);
  } else {
    throw Error(origin + ": plugin path '" + entry + "' is neither a folder nor a file");
  }
}

c10::Device parse_device(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name == "cuda") {
    if (!at::hasCUDA())
      throw Error("--device cuda: this LibTorch has no CUDA support or no GPU is visible (use --device cpu)");
    return c10::Device(c10::kCUDA);
  }
  throw Error("--device " + name + ": expected cpu or cuda");
}

}  // namespace

namespace {

// The CPU quota of the process's cgroup in CPUs (cgroup v2 `cpu.max`, or v1's CFS quota), rounded
// up; 0 when there is none.
int cgroup_cpu_quota() {
  const auto read = [](const std::string& path) {
    std::ifstream in(path);
    std::string text;
    std::getline(in, text);
    return text;
  };
  // The process's own cgroup (v2: one line "0::/path").
  std::string group;
  {
    std::ifstream in("/proc/self/cgroup");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("0::", 0) == 0) group = line.substr(3);
  }
  const auto quota_of = [](double quota, double period) {
    return quota > 0 && period > 0 ? static_cast<int>(std::ceil(quota / period)) : 0;
  };
  for (const std::string& dir : {"/sys/fs/cgroup" + group, std::string("/sys/fs/cgroup")}) {
    std::istringstream max(read(dir + "/cpu.max"));  // "max 100000" or "150000 100000"
    std::string quota;
    double period = 0;
    if (max >> quota >> period) return quota == "max" ? 0 : quota_of(std::atof(quota.c_str()), period);
  }
  return quota_of(std::atof(read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").c_str()),
                  std::atof(read("/sys/fs/cgroup/cpu/cpu.cfs_period_us").c_str()));
}

}  // namespace

int core_count() {
  // The CPUs this process may run on (taskset, Slurm's binding, a container's cpuset), capped by
  // its cgroup's CPU quota; all cores when neither is known.
  int n = static_cast<int>(std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  if (const int quota = cgroup_cpu_quota(); quota > 0) n = std::min(n, quota);
  return std::max(n, 1);
}

int default_threads() {
  // WHATIF_THREADS lets a test runner that starts several processes at once give each one core:
  // oversubscribed OpenMP threads spin on each other and run many times slower.
  if (const char* env = std::getenv("WHATIF_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
    throw Error("WHATIF_THREADS=" + std::string(env) + ": expected a positive integer");
  }
  return core_count();
}

void keep_freed_memory() {
#ifdef M_MMAP_THRESHOLD
  // glibc's own tunables, when given, win.
  for (const char* name : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES"})
    if (std::getenv(name)) return;
  constexpr int kGiB = 1 << 30;
  mallopt(M_MMAP_THRESHOLD, kGiB);  // blocks up to 1 GiB come from the heap and return to it
  mallopt(M_TRIM_THRESHOLD, kGiB);  // free memory at the top of the heap is kept up to 1 GiB
  mallopt(M_TOP_PAD, kGiB);         // and the heap grows in steps of 1 GiB (address space, not memory)
#endif
}

std::vector<std::string> default_plugin_path() {
  std::vector<std::string> path;
  // An installed whatif uses its own plugin folder; a build tree uses the build's.
  if (const fs::path installed = library_dir() / "whatif" / "plugins"; fs::is_directory(installed))
    path.push_back(installed.string());
  else if (fs::is_directory(WHATIF_BUILD_PLUGIN_DIR))
    path.emplace_back(WHATIF_BUILD_PLUGIN_DIR);
  if (const char* env = std::getenv("WHATIF_PLUGIN_PATH")) {
    std::stringstream stream(env);
    std::string item;
    while (std::getline(stream, item, ':'))
      if (!item.empty()) path.push_back(item);
  }
  return path;
}

std::string scripts_dir() {
  if (fs::is_directory(WHATIF_SOURCE_SCRIPTS_DIR)) return WHATIF_SOURCE_SCRIPTS_DIR;
  const fs::path installed = library_dir().parent_path() / "share" / "whatif" / "scripts";
  return installed.string();
}

Host::Host(const HostConfig& config)
    : threads_(config.threads > 0 ? config.threads : default_threads()),
      device_(parse_device(config.device)) {
  if (config.threads < 0) throw Error("--threads must be positive");
  at::set_num_threads(threads_);
  keep_freed_memory();
  search_path_ = default_plugin_path();
  const std::size_t from_env = search_path_.size();
  for (const auto& p : config.plugin_paths) search_path_.push_back(p);
  for (std::size_t i = 0; i < search_path_.size(); ++i)
    add_entry(registry_, search_path_[i], i < from_env ? "WHATIF_PLUGIN_PATH" : "--plugin-path");
}

}  // namespace whatif

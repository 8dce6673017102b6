#include "host/environment.hpp"

#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <ATen/Context.h>
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <torch/version.h>

#include "whatif_build_info.hpp"

namespace whatif {
namespace {

// The first mapped library whose name says BLAS, resolved through symlinks (Debian switches
// libblas.so.3 between implementations with update-alternatives).
std::string mapped_blas() {
  // Make sure BLAS is loaded and used once.
  (void)at::mm(at::ones({2, 2}), at::ones({2, 2}));
  std::string found;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) -> int {
        const std::string name = info->dlpi_name ? info->dlpi_name : "";
        const auto slash = name.find_last_of('/');
        const std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
        if (base.find("blas") == std::string::npos && base.find("mkl_rt") == std::string::npos)
          return 0;
        char resolved[PATH_MAX];
        std::string path = realpath(name.c_str(), resolved) ? resolved : name;
        auto* out = static_cast<std::string*>(data);
        if (!out->empty()) *out += ", ";
        *out += path;
        return 0;
      },
      &found);
  if (found.empty()) return "none mapped (LibTorch uses its own kernels)";
  if (found.find("openblas") != std::string::npos) return "OpenBLAS (" + found + ")";
  if (found.find("mkl") != std::string::npos) return "MKL (" + found + ")";
  if (found.find("blis") != std::string::npos) return "BLIS (" + found + ")";
  return "reference BLAS, slow: install libopenblas0-pthread (" + found + ")";
}

std::string cpu_capability() {
  std::istringstream config(at::show_config());
  std::string line;
  while (std::getline(config, line)) {
    const auto at = line.find("CPU capability usage:");
    if (at != std::string::npos) {
      std::string value = line.substr(at + 21);
      value.erase(0, value.find_first_not_of(' '));
      return value;
    }
  }
  return "unknown";
}

// The CPU's model name and the instruction-set flags that decide bf16 speed, from /proc/cpuinfo.
struct CpuFlags {
  std::string model = "unknown";
  bool amx = false, avx512bf16 = false, avx512 = false, avx2 = false;
};

CpuFlags cpu_flags() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  CpuFlags cpu;
  bool have_flags = false;
  while (std::getline(cpuinfo, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    if (line.rfind("model name", 0) == 0 && cpu.model == "unknown") cpu.model = value;
    if (line.rfind("flags", 0) != 0 || have_flags) continue;
    have_flags = true;
    std::istringstream flags(value);
    std::string flag;
    while (flags >> flag) {
      cpu.amx = cpu.amx || flag == "amx_bf16";
      cpu.avx512bf16 = cpu.avx512bf16 || flag == "avx512_bf16";
      cpu.avx512 = cpu.avx512 || flag == "avx512f";
      cpu.avx2 = cpu.avx2 || flag == "avx2";
    }
  }
  return cpu;
}

std::string describe_cpu(const CpuFlags& cpu) {
  std::string isa = cpu.avx512 ? "AVX-512" : cpu.avx2 ? "AVX2, no AVX-512" : "no AVX2";
  if (cpu.avx512) isa += cpu.avx512bf16 ? ", AVX-512 BF16" : ", no AVX-512 BF16";
  isa += cpu.amx ? ", AMX" : ", no AMX";
  return cpu.model + " (" + isa + ")";
}

std::string bf16_support(const CpuFlags& cpu) {
  if (cpu.amx) return "available, fast (AMX bf16)";
  if (cpu.avx512bf16) return "available, fast (AVX-512 bf16)";
  if (cpu.avx512) return "available, emulated (AVX-512, no native bf16)";
  return "available, emulated (no native bf16: expect it slower than fp32)";
}

// oneDNN runs LibTorch's convolutions and bf16 matmuls and picks its own kernels for the CPU it
// finds, independently of ATen's level. It is asked through its C API when it is mapped.
std::string onednn(const CpuFlags& cpu) {
  struct Version {
    int major, minor, patch;
    const char* hash;
    unsigned cpu_runtime, gpu_runtime;
  };
  using VersionFn = const Version* (*)();
  const auto version = reinterpret_cast<VersionFn>(dlsym(RTLD_DEFAULT, "dnnl_version"));
  if (!version) return "not mapped (convolutions use ATen's own kernels)";
  const Version* v = version();
  const std::string kernels = cpu.amx          ? "AMX bf16"
                              : cpu.avx512bf16 ? "AVX-512 BF16"
                              : cpu.avx512     ? "AVX-512"
                                               : "AVX2";
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) +
         ", convolutions and bf16 matmuls use its " + kernels + " kernels";
}

// libgomp's policy as set at load (`whatif run` sets PASSIVE unless the user chose).
std::string openmp_wait() {
  if (const char* policy = std::getenv("OMP_WAIT_POLICY")) return std::string(policy);
  if (const char* spin = std::getenv("GOMP_SPINCOUNT")) return "GOMP_SPINCOUNT=" + std::string(spin);
  return "libgomp default (spin, then sleep); whatif run sets PASSIVE";
}

}  // namespace

std::vector<std::pair<std::string, std::string>> Environment::rows() const {
  return {{"whatif", whatif_version},
          {"commit", git_commit},
          {"libtorch", torch_version},
          {"blas", blas},
          {"cpu", cpu},
          {"aten kernels", cpu_capability + " (elementwise ops and reductions; the highest level this LibTorch dispatches)"},
          {"onednn", onednn},
          {"bf16 autocast", bf16},
          {"cuda", cuda ? "available" : "not available"},
          {"threads", std::to_string(threads)},
          {"openmp wait", openmp_wait()},
          {"host", host}};
}

std::string whatif_version() { return WHATIF_VERSION; }
std::string whatif_git_commit() { return WHATIF_GIT_COMMIT; }

Environment describe_environment() {
  Environment env;
  env.whatif_version = WHATIF_VERSION;
  env.git_commit = WHATIF_GIT_COMMIT;
  env.torch_version = TORCH_VERSION;
  env.blas = mapped_blas();
  const CpuFlags cpu = cpu_flags();
  env.cpu = describe_cpu(cpu);
  env.cpu_capability = cpu_capability();
  env.onednn = onednn(cpu);
  env.bf16 = bf16_support(cpu);
  env.cuda = at::hasCUDA();
  env.threads = at::get_num_threads();
  char name[256] = {0};
  gethostname(name, sizeof name - 1);
  env.host = name;
  return env;
}

}  // namespace whatif

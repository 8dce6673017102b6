#pragma once
// What this process runs on: the facts `whatif version` prints and provenance records.
#include <string>
#include <vector>
#include <utility>

namespace whatif {

struct Environment {
  std::string whatif_version;
  std::string git_commit;
  std::string torch_version;
  std::string blas;            // the BLAS library actually mapped into the process
  std::string cpu;             // model name and the flags that decide speed (AVX-512, BF16, AMX)
  std::string cpu_capability;  // ATen's own kernel level (elementwise ops): DEFAULT, AVX2, AVX512
  std::string onednn;          // the oneDNN library convolutions and bf16 matmuls run on
  std::string bf16;            // whether bf16 autocast is available, and with which hardware
  bool cuda = false;
  int threads = 0;
  std::string host;

  std::vector<std::pair<std::string, std::string>> rows() const;
};

Environment describe_environment();

// What built this library, for files that should say which whatif wrote them.
std::string whatif_version();
std::string whatif_git_commit();

}  // namespace whatif

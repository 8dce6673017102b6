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
  std::string cpu_capability;  // ATen's kernel level: DEFAULT, AVX2, AVX512
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

#pragma once
// Shared by the HDF5 harnesses (store, checkpoint): the input as a file, and stand-ins for what only
// their writers use — the version strings stamped into files and the temporary file name (the real
// ones live in sources that pull in the whole host runtime and ITK; the readers never call them).
// Include it from exactly one source file per harness: it defines those functions.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <set>
#include <string>

namespace whatif {
std::string whatif_version() { return "fuzz"; }
std::string whatif_git_commit() { return "fuzz"; }
namespace data {
std::string temporary_sibling(const std::string& path) { return path + ".partial"; }
}  // namespace data
}  // namespace whatif

namespace whatif_fuzz {

// A fresh name per input: HDF5 shares an open file by name, so a handle leaked by one input must
// never serve the next one.
inline std::string write_input(const char* what, const char* ext, const std::uint8_t* data, std::size_t size) {
  static std::uint64_t counter = 0;
  const std::string path = std::string("/tmp/whatif-fuzz-") + what + "-" + std::to_string(::getpid()) + "-" +
                           std::to_string(counter++) + ext;
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  return path;
}

// An exception other than whatif::Error reached the caller: the CLI would print its raw text.
inline void note_foreign_exception(const char* what, const std::exception& e) {
  static std::set<std::string> seen;
  std::string text = e.what();
  if (const auto eol = text.find('\n'); eol != std::string::npos) text.resize(eol);
  if (seen.insert(text).second && seen.size() <= 20)
    std::fprintf(stderr, "NOTE %s: non-whatif exception: %s\n", what, text.c_str());
}

}  // namespace whatif_fuzz

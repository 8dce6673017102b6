// libFuzzer: any bytes as a CSV or JSONL manifest (the first byte picks which). Reading ends in rows
// or whatif::Error, never a crash or another exception type.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "whatif/data/manifest.hpp"
#include "whatif/registry/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string stem = "/tmp/whatif-fuzz-manifest-" + std::to_string(::getpid());
  const std::string path = stem + ((data[0] & 1) ? ".jsonl" : ".csv");
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data + 1, 1, size - 1, f);
    std::fclose(f);
  }
  try {
    whatif::data::read_manifest(path);
  } catch (const whatif::Error&) {
  }
  std::remove(path.c_str());
  return 0;
}

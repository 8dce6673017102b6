// libFuzzer: any bytes as a .nii file through the NIfTI header check that guards ITK. The check
// must end in acceptance or whatif::Error — never a crash, a hang or an allocation the file does
// not justify.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "data/nifti_header.hpp"
#include "whatif/registry/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string path = "/tmp/whatif-fuzz-nifti-" + std::to_string(::getpid()) + ".nii";
  if (FILE* f = std::fopen(path.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  }
  try {
    whatif::data::check_nifti(path);
  } catch (const whatif::Error&) {
  }
  return 0;
}

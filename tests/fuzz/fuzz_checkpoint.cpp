// libFuzzer: any bytes as an .h5 file through the checkpoint loader (read_checkpoint), then its
// tensors restored into tensors of the same names and shapes (restore_tensors, which refuses NaN
// weights). Loading must end in a checkpoint or whatif::Error — never a crash, a hang or an
// allocation the file does not justify. Other exceptions are printed once per distinct text.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>

#include <ATen/ATen.h>

#include "fuzz_support.hpp"
#include "train/checkpoint.hpp"
#include "whatif/registry/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = whatif_fuzz::write_input("checkpoint", ".h5", data, size);
  try {
    const whatif::Checkpoint checkpoint = whatif::read_checkpoint(path);
    for (const auto& [group, tensors] : checkpoint.groups) {
      whatif::NamedTensors targets;
      for (const auto& [name, tensor] : tensors) targets.emplace_back(name, at::empty_like(tensor));
      whatif::restore_tensors(tensors, targets, false, path + " /" + group);
    }
  } catch (const whatif::Error&) {
  } catch (const std::exception& e) {
    whatif_fuzz::note_foreign_exception("checkpoint", e);
  }
  std::remove(path.c_str());
  return 0;
}

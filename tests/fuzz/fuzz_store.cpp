// libFuzzer: any bytes as an .h5 file through the dataset store reader (StoreReader): open, every
// piece of metadata, then the images and masks of the first examples. Reading must end in a store
// or whatif::Error — never a crash, a hang or an allocation the file does not justify (the run's
// -malloc_limit_mb turns one into a finding). Any other exception is a message a user would not
// understand: it is printed once per distinct text (not a finding, so fuzzing goes on).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <set>
#include <string>

#include <ATen/ATen.h>

#include "fuzz_support.hpp"
#include "whatif/data/store.hpp"
#include "whatif/registry/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = whatif_fuzz::write_input("store", ".h5", data, size);
  try {
    const whatif::data::StoreReader store(path);
    (void)store.dims();
    (void)store.root_attributes();
    (void)store.attribute_names();
    (void)store.pairs();
    const std::int64_t n = store.size() < 3 ? store.size() : 3;
    for (std::int64_t i = 0; i < n; ++i) {
      const whatif::Example e = store.example(i);
      (void)store.prompt(i);
      if (e.image.defined()) (void)e.image.sum().item<float>();
    }
  } catch (const whatif::Error&) {
  } catch (const std::exception& e) {
    whatif_fuzz::note_foreign_exception("store", e);
  }
  std::remove(path.c_str());
  return 0;
}

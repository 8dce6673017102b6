#pragma once
// Reading the scalar attributes whatif writes on HDF5 objects (strings and integers), shared by the
// dataset store, checkpoints (and through them the latent cache) and result files.
#include <H5Cpp.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace whatif {

struct ScalarAttributes {
  std::map<std::string, std::string> strings;
  std::map<std::string, std::int64_t> integers;
  // Attributes of another shape or class (arrays, floats): not read, named here so each reader
  // decides whether a foreign attribute is an error.
  std::vector<std::string> other;
};

// Every attribute of `object`; never reads a list into a scalar. Variable-length strings (kept in
// HDF5's unchecksummed global heap) are read only when `variable_strings`; otherwise "other".
ScalarAttributes read_scalar_attributes(const H5::H5Object& object, bool variable_strings = true);

// File access for the files whatif writes: the HDF5 1.8 format or newer, whose metadata (object
// headers, B-trees, heaps) carries checksums the library verifies on every read, so a damaged file
// is refused instead of parsed.
H5::FileAccPropList checksummed_file_access();
// A fixed-length, null-padded UTF-8 string type of `bytes` (at least 1).
H5::StrType fixed_utf8(std::size_t bytes);

}  // namespace whatif

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

// Every attribute of `object`; never reads a list into a scalar.
ScalarAttributes read_scalar_attributes(const H5::H5Object& object);

}  // namespace whatif

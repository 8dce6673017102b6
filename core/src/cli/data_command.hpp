#pragma once
// `whatif data synth|import|info|show|export`: make, inspect and export HDF5 dataset stores.
#include <string>
#include <vector>

namespace whatif {

// Returns the exit code (0 ok, 1 bad input or failure, 2 usage); usage errors are printed here.
int command_data(const std::vector<std::string>& args);

}  // namespace whatif

#pragma once
// Checkpoints are HDF5 files: tensors by name in groups (/params, /buffers, /ema, /optim/m,
// /optim/v), scalars and the config as attributes, and the loss curve. A short h5py snippet turns
// /params into a PyTorch state dict (docs/checkpoints.md). Files are written to a temporary name
// and renamed, so a crash never leaves a half-written checkpoint.
#include <map>
#include <string>
#include <vector>

#include "whatif/tensor.hpp"

namespace whatif {

struct Checkpoint {
  std::map<std::string, NamedTensors> groups;   // "params" → [(name, tensor)], ...
  std::map<std::string, std::string> strings;   // attributes: "config" (JSON), "kind", ...
  std::map<std::string, std::int64_t> integers; // attributes: "step", "seed", ...
  std::vector<double> losses;                   // one per completed step
};

void write_checkpoint(const std::string& path, const Checkpoint& checkpoint);
Checkpoint read_checkpoint(const std::string& path);

// Copies `source` into the tensors of `target` by name. Shapes must match, except that
// `resizable` targets (buffers such as a serialized tokenizer) take the source's shape.
// Throws Error naming the file and the first missing or mismatched tensor.
void restore_tensors(const NamedTensors& source, const NamedTensors& target, bool resizable,
                     const std::string& what);

}  // namespace whatif

#pragma once
// A whole-file checksum on the HDF5 files whatif writes (dataset stores, checkpoints, saved models,
// result files): a 64-byte trailer after HDF5's end of file holding the CRC-32 and length of
// everything before it. HDF5 ignores bytes past its end of file, so h5py and other tools read a
// sealed file as before. Readers check the seal before libhdf5 parses a byte: a truncated or
// damaged file is refused in one line instead of reaching libhdf5, which does not survive every
// corruption (its heaps carry no checksums). A seal detects damage, not a deliberately forged file.
#include <string>

namespace whatif {

constexpr int kSealBytes = 64;

// Appends the seal to the finished file at `path`.
void seal_file(const std::string& path);

// Throws Error naming `path` when the file has no seal, or its bytes do not match it. `remedy`
// says what to do ("write it again with ...").
void check_seal(const std::string& path, const std::string& remedy);

}  // namespace whatif

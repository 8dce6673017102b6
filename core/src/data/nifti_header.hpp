#pragma once
// A NIfTI-1 header read and checked before ITK sees the file. ITK's reader zero-fills data past
// the end of a file, reads non-positive sizes and spacings as they come, allocates whatever the
// header declares and aborts the process inside VNL on a NaN in the qform or sform; this check
// refuses all of those with one line naming the file and the field.
#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace whatif::data {

struct NiftiHeader {
  std::array<std::int64_t, 8> dim{};     // dim[0] = number of axes
  std::array<double, 8> pixdim{};
  std::int16_t datatype = 0, bitpix = 0;
  double vox_offset = 0, scl_slope = 0, scl_inter = 0;
  std::int16_t qform_code = 0, sform_code = 0;
  std::array<double, 6> quatern{};       // b, c, d, qoffset x, y, z
  std::array<std::array<double, 4>, 3> srow{};
  bool swapped = false;                  // stored in the other byte order

  std::int64_t voxels() const;           // product of dim[1..dim[0]]
  int bytes_per_voxel() const;           // 0 for types whatif does not read
};

// The largest volume whatif reads: 2^29 voxels (2 GiB as float32).
constexpr std::int64_t kMaxNiftiVoxels = std::int64_t{1} << 29;

// Reads the header of a .nii or .nii.gz file; throws Error naming the file when it is not a
// single-file NIfTI-1 header (too short, wrong sizeof_hdr, wrong magic).
NiftiHeader read_nifti_header(const std::string& path);

// Reads and checks: axes and sizes, voxel type, positive finite spacing, finite scaling and
// orientation, the declared size against kMaxNiftiVoxels and the data against the file's real
// (uncompressed) length, and a gzip stream that ends early. Throws Error with one line.
NiftiHeader check_nifti(const std::string& path);

}  // namespace whatif::data

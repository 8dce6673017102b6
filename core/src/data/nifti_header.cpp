#include "data/nifti_header.hpp"

#include <zlib.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "whatif/registry/error.hpp"

namespace whatif::data {
namespace {

class Bytes {
 public:
  Bytes(const unsigned char* data, bool swap) : data_(data), swap_(swap) {}
  std::int16_t i16(int at) const {
    std::uint16_t v;
    std::memcpy(&v, data_ + at, 2);
    return static_cast<std::int16_t>(swap_ ? __builtin_bswap16(v) : v);
  }
  double f32(int at) const {
    std::uint32_t v;
    std::memcpy(&v, data_ + at, 4);
    if (swap_) v = __builtin_bswap32(v);
    float f;
    std::memcpy(&f, &v, 4);
    return f;
  }

 private:
  const unsigned char* data_;
  bool swap_;
};

std::string number(double v) {
  if (std::isnan(v)) return "nan";
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// The bytes a gzip (or plain) stream decompresses to; throws when the stream ends early or is
// corrupt. Reads in 1 MiB pieces, allocating nothing the file does not hold.
std::int64_t stream_length(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");  // reads plain files as they are
  if (!file) throw Error(path + ": cannot open");
  std::vector<char> buffer(1 << 20);
  std::int64_t total = 0;
  int n = 0;
  while ((n = gzread(file, buffer.data(), static_cast<unsigned>(buffer.size()))) > 0) total += n;
  int status = Z_OK;
  const std::string message = gzerror(file, &status);
  gzclose(file);
  if (n < 0 || status != Z_OK) throw Error(path + ": truncated or corrupt gzip data (" + message + ")");
  return total;
}

}  // namespace

std::int64_t NiftiHeader::voxels() const {
  std::int64_t n = 1;
  for (std::int64_t i = 1; i <= dim[0]; ++i) n *= dim[static_cast<std::size_t>(i)];
  return n;
}

int NiftiHeader::bytes_per_voxel() const {
  switch (datatype) {
    case 2: case 256: return 1;            // uint8, int8
    case 4: case 512: return 2;            // int16, uint16
    case 8: case 16: case 768: return 4;   // int32, float32, uint32
    case 64: case 1024: case 1280: return 8;  // float64, int64, uint64
    default: return 0;
  }
}

NiftiHeader read_nifti_header(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw Error(path + ": cannot open");
  unsigned char raw[348];
  const int n = gzread(file, raw, sizeof raw);
  int status = Z_OK;
  const std::string message = n < 0 ? gzerror(file, &status) : "";
  gzclose(file);
  if (n < 0)
    throw Error(path + ": corrupt gzip data (" + message + "); the file is damaged: copy or export it again");
  if (n < static_cast<int>(sizeof raw))
    throw Error(path + ": the NIfTI header is truncated (" + std::to_string(std::max(n, 0)) +
                " of 348 bytes); the file is cut short or not NIfTI");
  std::int32_t size = 0;
  std::memcpy(&size, raw, 4);
  NiftiHeader h;
  h.swapped = size != 348;
  if (h.swapped && __builtin_bswap32(static_cast<std::uint32_t>(size)) != 348u) {
    if (size == 540 || __builtin_bswap32(static_cast<std::uint32_t>(size)) == 540u)
      throw Error(path + ": is NIfTI-2, which whatif does not read; save it as NIfTI-1 (e.g. nibabel's Nifti1Image)");
    throw Error(path + ": not a NIfTI-1 file (sizeof_hdr is " + std::to_string(size) + ", expected 348)");
  }
  if (std::memcmp(raw + 344, "n+1\0", 4) != 0)
    throw Error(path + ": not a single-file NIfTI-1 image (magic is not \"n+1\"); " +
                "convert .hdr/.img pairs to .nii first");
  const Bytes b(raw, h.swapped);
  for (int i = 0; i < 8; ++i) {
    h.dim[static_cast<std::size_t>(i)] = b.i16(40 + 2 * i);
    h.pixdim[static_cast<std::size_t>(i)] = b.f32(76 + 4 * i);
  }
  h.datatype = b.i16(70);
  h.bitpix = b.i16(72);
  h.vox_offset = b.f32(108);
  h.scl_slope = b.f32(112);
  h.scl_inter = b.f32(116);
  h.qform_code = b.i16(252);
  h.sform_code = b.i16(254);
  for (int i = 0; i < 6; ++i) h.quatern[static_cast<std::size_t>(i)] = b.f32(256 + 4 * i);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 4; ++c) h.srow[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)] = b.f32(280 + 16 * r + 4 * c);
  return h;
}

NiftiHeader check_nifti(const std::string& path) {
  const NiftiHeader h = read_nifti_header(path);
  const auto fail = [&](const std::string& what) { throw Error(path + ": " + what); };
  if (h.dim[0] < 1 || h.dim[0] > 7)
    fail("dim[0] = " + std::to_string(h.dim[0]) + " axes; a NIfTI-1 image has 1 to 7");
  std::int64_t voxels = 1;
  for (std::int64_t i = 1; i <= h.dim[0]; ++i) {
    const std::int64_t d = h.dim[static_cast<std::size_t>(i)];
    if (d < 1) fail("dim[" + std::to_string(i) + "] = " + std::to_string(d) + "; every axis needs at least one voxel");
    voxels *= d;  // at most 32767^7 would overflow; the limit below stops growth first
    if (voxels > kMaxNiftiVoxels)
      fail("the header declares more than " + std::to_string(kMaxNiftiVoxels) +
           " voxels; whatif reads volumes up to 2^29 voxels (crop or downsample it first)");
  }
  const int bytes = h.bytes_per_voxel();
  if (bytes == 0)
    fail("voxel type " + std::to_string(h.datatype) +
         " is not a scalar integer or float type; convert to float32 or int16");
  if (h.bitpix != 8 * bytes)
    fail("bitpix = " + std::to_string(h.bitpix) + " does not match datatype " + std::to_string(h.datatype) +
         " (" + std::to_string(8 * bytes) + " bits)");
  const std::int64_t spatial = std::min<std::int64_t>(h.dim[0], 3);
  for (std::int64_t i = 1; i <= spatial; ++i) {
    const double p = h.pixdim[static_cast<std::size_t>(i)];
    if (!std::isfinite(p) || p <= 0)
      fail("pixdim[" + std::to_string(i) + "] = " + number(p) + " mm; voxel sizes must be positive and finite");
  }
  if (!std::isfinite(h.scl_slope) || !std::isfinite(h.scl_inter))
    fail("scl_slope/scl_inter are not finite; set them to 0 (no scaling) or to real numbers");
  if (h.qform_code > 0) {
    for (const double q : h.quatern)
      if (!std::isfinite(q)) fail("the qform (quatern_b/c/d, qoffset) holds a non-finite value; fix the orientation");
  }
  if (h.sform_code > 0) {
    for (const auto& row : h.srow)
      for (const double v : row)
        if (!std::isfinite(v)) fail("the sform (srow_x/y/z) holds a non-finite value; fix the orientation");
    const auto& m = h.srow;
    const double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                       m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                       m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    if (!(std::abs(det) > 0)) fail("the sform's 3×3 part is singular; fix the orientation");
  }
  if (!std::isfinite(h.vox_offset) || h.vox_offset < 352)
    fail("vox_offset = " + number(h.vox_offset) + "; a .nii file's data starts at byte 352 or later");
  const double needed = h.vox_offset + static_cast<double>(voxels) * bytes;
  const std::int64_t length = stream_length(path);
  if (static_cast<double>(length) < needed)
    fail("the header declares " + std::to_string(voxels) + " voxels of " + std::to_string(bytes) +
         " bytes from byte " + number(h.vox_offset) + " (" + number(needed) + " bytes) but the file holds " +
         std::to_string(length) + "; it is truncated or its header is wrong");
  return h;
}

}  // namespace whatif::data

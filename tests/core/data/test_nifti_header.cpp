// Broken NIfTI headers are refused before ITK reads them: each case patches one field of a valid
// file written by ITK and expects a one-line error naming the file and that field.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "core/data/temp_dir.hpp"
#include "whatif/data/volume.hpp"
#include "whatif/registry/error.hpp"

using namespace whatif::data;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void put16(std::string& b, std::size_t at, std::int16_t v) { std::memcpy(&b[at], &v, 2); }
void put32(std::string& b, std::size_t at, std::int32_t v) { std::memcpy(&b[at], &v, 4); }
void putf(std::string& b, std::size_t at, float v) { std::memcpy(&b[at], &v, 4); }

struct Case {
  std::string name;
  std::function<void(std::string&)> patch;
  std::string expected;  // a fragment of the message
};

}  // namespace

CATCH_TEST_CASE("malformed NIfTI headers are refused in one line before ITK reads them") {
  whatif_test::TempDir dir;
  Volume v;
  v.voxels = at::arange(6 * 5 * 4, at::kFloat).reshape({6, 5, 4});
  const std::string good = dir / "good.nii";
  write_volume(v, good);
  const std::string bytes = slurp(good);
  CATCH_REQUIRE(bytes.size() == 352 + 6 * 5 * 4 * 4);
  // The untouched file reads back as written: the checks refuse nothing valid.
  CATCH_REQUIRE(at::equal(read_volume(good, 3).voxels, v.voxels));

  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<Case> cases{
      {"short", [](std::string& b) { b.resize(100); }, "header is truncated (100 of 348 bytes)"},
      {"header_only", [](std::string& b) { b.resize(348); }, "but the file holds 348"},
      {"cut_data", [](std::string& b) { b.resize(b.size() - 40); }, "it is truncated or its header is wrong"},
      {"sizeof", [](std::string& b) { put32(b, 0, 1234); }, "not a NIfTI-1 file (sizeof_hdr is 1234"},
      {"nifti2", [](std::string& b) { put32(b, 0, 540); }, "is NIfTI-2"},
      {"magic", [](std::string& b) { std::memcpy(&b[344], "ni1\0", 4); }, "magic is not"},
      {"no_axes", [](std::string& b) { put16(b, 40, 0); }, "dim[0] = 0 axes"},
      {"zero_dim", [](std::string& b) { put16(b, 44, 0); }, "dim[2] = 0; every axis needs"},
      {"negative_dim", [](std::string& b) { put16(b, 42, -5); }, "dim[1] = -5"},
      {"huge", [](std::string& b) { put16(b, 42, 1024), put16(b, 44, 1024), put16(b, 46, 1024); },
       "more than 536870912 voxels"},
      {"bigger_than_file", [](std::string& b) { put16(b, 42, 200), put16(b, 44, 200), put16(b, 46, 200); },
       "declares 8000000 voxels"},
      {"complex", [](std::string& b) { put16(b, 70, 32), put16(b, 72, 64); }, "voxel type 32"},
      {"bitpix", [](std::string& b) { put16(b, 72, 8); }, "bitpix = 8 does not match datatype 16"},
      {"zero_spacing", [](std::string& b) { putf(b, 80, 0.0f); }, "pixdim[1] = 0 mm"},
      {"negative_spacing", [](std::string& b) { putf(b, 88, -1.0f); }, "pixdim[3] = -1 mm"},
      {"nan_spacing", [nan](std::string& b) { putf(b, 84, nan); }, "pixdim[2] = nan"},
      {"nan_scale", [](std::string& b) { putf(b, 112, std::numeric_limits<float>::infinity()); }, "scl_slope"},
      {"nan_qform", [nan](std::string& b) { put16(b, 252, 1), putf(b, 256, nan); }, "the qform"},
      {"nan_sform", [nan](std::string& b) { put16(b, 254, 1), putf(b, 280, nan); }, "the sform"},
      {"singular_sform", [](std::string& b) {
         put16(b, 254, 1);
         for (int c = 0; c < 4; ++c) putf(b, 296 + 4 * c, 0.0f);
       }, "singular"},
      {"early_offset", [](std::string& b) { putf(b, 108, 10.0f); }, "vox_offset = 10"},
      {"late_offset", [](std::string& b) { putf(b, 108, 1e6f); }, "from byte 1000000"},
  };
  for (const auto& c : cases) {
    CATCH_SECTION(c.name) {
      std::string patched = bytes;
      c.patch(patched);
      const std::string path = dir / (c.name + ".nii");
      std::ofstream(path, std::ios::binary) << patched;
      try {
        read_volume(path, 3);
        CATCH_FAIL("no error for " + c.name);
      } catch (const whatif::Error& e) {
        const std::string message = e.what();
        CATCH_INFO(message);
        CATCH_REQUIRE_THAT(message, Catch::StartsWith(path + ": ") && Catch::Contains(c.expected));
        CATCH_REQUIRE(message.find('\n') == std::string::npos);
      }
    }
  }
}

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <ATen/ATen.h>

#include "core/data/temp_dir.hpp"
#include "whatif/data/preprocess.hpp"
#include "whatif/data/volume.hpp"
#include "whatif/registry/error.hpp"

using namespace whatif::data;

namespace {

const std::string kTemplates = "/usr/share/mricron/templates";

Volume phantom() {
  Volume v;
  v.voxels = at::rand({7, 6, 5}, at::kFloat) * 100;
  v.geometry.spacing = {0.75, 1.25, 2.5};
  v.geometry.origin = {-12.5, 30.0, 4.25};
  // A rotation about z by 30° combined with an axis flip: not a plain diagonal.
  const double c = std::cos(M_PI / 6), s = std::sin(M_PI / 6);
  v.geometry.direction = {c, -s, 0, s, c, 0, 0, 0, -1};
  return v;
}

void require_same_geometry(const Geometry& a, const Geometry& b, double tolerance) {
  for (int i = 0; i < 3; ++i) {
    CATCH_REQUIRE(a.spacing[i] == Approx(b.spacing[i]).margin(tolerance));
    CATCH_REQUIRE(a.origin[i] == Approx(b.origin[i]).margin(tolerance));
  }
  for (int i = 0; i < 9; ++i) CATCH_REQUIRE(a.direction[i] == Approx(b.direction[i]).margin(tolerance));
}

}  // namespace

CATCH_TEST_CASE("round trips through NIfTI, NRRD and MHA keep voxels and geometry") {
  whatif_test::TempDir dir;
  const Volume v = phantom();
  for (const std::string name : {"v.nii.gz", "v.nii", "v.nrrd", "v.mha"}) {
    CATCH_INFO(name);
    write_volume(v, dir / name);
    const Volume back = read_volume(dir / name, 3);
    CATCH_REQUIRE(back.voxels.sizes() == v.voxels.sizes());
    CATCH_REQUIRE(at::equal(back.voxels, v.voxels));
    // NIfTI stores the affine as float32 quaternions: agree to ~1e-5 mm.
    require_same_geometry(back.geometry, v.geometry, 1e-4);
  }
  CATCH_REQUIRE(dir.count() == 4);  // no temporary files left next to the outputs
}

CATCH_TEST_CASE("2D PNG round trip keeps 8-bit values") {
  whatif_test::TempDir dir;
  Volume v;
  v.voxels = at::arange(0, 256, at::kFloat).view({16, 16});
  write_volume(v, dir / "a.png");
  const Volume back = read_volume(dir / "a.png", 2);
  CATCH_REQUIRE(back.dims() == 2);
  CATCH_REQUIRE(at::equal(back.voxels, v.voxels));
}

CATCH_TEST_CASE("ch2bet reads with the affine nibabel reports") {
  // nibabel: ch2bet.nii.gz affine = [[1,0,0,-90],[0,1,0,-125],[0,0,1,-71]], shape 181×217×181.
  const Volume t1 = read_volume(kTemplates + "/ch2bet.nii.gz", 3);
  CATCH_REQUIRE(t1.voxels.sizes() == at::IntArrayRef({181, 217, 181}));
  const auto affine = t1.geometry.ras_affine();
  const double expected[16] = {1, 0, 0, -90, 0, 1, 0, -125, 0, 0, 1, -71, 0, 0, 0, 1};
  for (int i = 0; i < 16; ++i) CATCH_REQUIRE(affine[i] == Approx(expected[i]).margin(1e-6));
  CATCH_REQUIRE(t1.voxels.max().item<float>() == 133.0f);
}

CATCH_TEST_CASE("JHU maps onto the ch2bet grid by physical coordinates") {
  // JHU is 182×218×182 with origin (-91, -126, -72) (nibabel, sform): ch2bet voxel (i, j, k) is JHU
  // voxel (i+1, j+1, k+1). A reader that took the file's z-flipped qform (as ITK does) would not.
  const Volume t1 = read_volume(kTemplates + "/ch2bet.nii.gz", 3);
  const Volume jhu = read_volume(kTemplates + "/JHU-WhiteMatter-labels-1mm.nii.gz", 3);
  CATCH_INFO("JHU origin " << jhu.geometry.origin[0] << " " << jhu.geometry.origin[1] << " " << jhu.geometry.origin[2]
                           << ", direction z " << jhu.geometry.direction[8]);
  const Volume on_t1 = resample_to_grid(jhu, t1.geometry, {181, 217, 181}, Interpolation::Nearest);
  using at::indexing::Slice;
  const at::Tensor shifted = jhu.voxels.index({Slice(1, 182), Slice(1, 218), Slice(1, 182)});
  CATCH_REQUIRE(at::equal(on_t1.voxels, shifted));
  // And the tracts land on bright (white) matter of the T1.
  const double in_tracts = t1.voxels.index({on_t1.voxels > 0}).mean().item<double>();
  const double in_brain = t1.voxels.index({t1.voxels > 0}).mean().item<double>();
  CATCH_REQUIRE(in_tracts > in_brain + 8);
}

CATCH_TEST_CASE("malformed volumes give one-line errors naming the file") {
  whatif_test::TempDir dir;
  // Truncated: the first half of a valid .nii.gz.
  write_volume(phantom(), dir / "full.nii.gz");
  {
    std::ifstream in(dir / "full.nii.gz", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream out(dir / "cut.nii.gz", std::ios::binary);
    out << bytes.substr(0, bytes.size() / 2);
  }
  for (const auto& [path, dims, what] : std::vector<std::tuple<std::string, int, std::string>>{
           {dir / "missing.nii.gz", 0, "no such file"},
           {dir / "cut.nii.gz", 3, "truncated"},
           {dir / "full.nii.gz", 2, "has 3 dimensions; expected 2"},
           {dir / "nan.nrrd", 3, "NaN"},
           {dir / "nan.nii.gz", 3, "NaN"}}) {
    if (path.find("nan") != std::string::npos) {
      Volume v = phantom();
      v.voxels[1][2][3] = std::nanf("");
      write_volume(v, path);
    }
    try {
      read_volume(path, dims);
      CATCH_FAIL("no error for " + path);
    } catch (const whatif::Error& e) {
      const std::string message = e.what();
      CATCH_REQUIRE_THAT(message, Catch::Contains(path) && Catch::Contains(what));
      CATCH_REQUIRE(message.find('\n') == std::string::npos);
    }
  }
}

CATCH_TEST_CASE("writing into a folder removes partial files that dead processes left, and only those") {
  whatif_test::TempDir dir;
  const std::string dead = dir / ".whatif-partial-999999999-store.h5";  // above any pid_max
  const std::string alive = dir / (".whatif-partial-" + std::to_string(::getpid()) + "-other.h5");
  const std::string unrelated = dir / ".whatif-partial-notapid.h5";
  for (const auto& path : {dead, alive, unrelated}) std::ofstream(path) << "partial";
  write_volume(phantom(), dir / "out.nii.gz");
  CATCH_REQUIRE_FALSE(std::filesystem::exists(dead));
  CATCH_REQUIRE(std::filesystem::exists(alive));
  CATCH_REQUIRE(std::filesystem::exists(unrelated));
  CATCH_REQUIRE(std::filesystem::exists(dir / "out.nii.gz"));
}

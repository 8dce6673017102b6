// Resampling the Colin27 templates onto the benchmark's grid. JHU lives on another grid
// (182×218×182) than ch2bet and AAL (181×217×181): every map goes through physical coordinates.
#include "data/brain_atlas.hpp"

#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>

#include <itkConnectedComponentImageFilter.h>
#include <itkRelabelComponentImageFilter.h>
#include <itkSignedMaurerDistanceMapImageFilter.h>

#include "data/itk_image.hpp"
#include "whatif/data/preprocess.hpp"
#include "whatif/registry/error.hpp"

namespace fs = std::filesystem;

namespace whatif::data {
namespace {

// Colin27 ch2bet intensities (0–133): CSF below ~45, grey matter ~80, white matter 100–120.
constexpr float kCsfBelow = 45.0f;
// Where the lateral and third ventricles lie in MNI space (LPS mm): an ellipsoid around them,
// so dark sulcal CSF at the surface is not taken for ventricles.
constexpr double kVentricleCentre[3] = {0.0, 10.0, 12.0};
constexpr double kVentricleSemiAxes[3] = {30.0, 45.0, 25.0};
constexpr unsigned kVentricleMinVoxels = 300;  // mm³ at 1 mm: drops isolated dark specks

// Physical LPS coordinates of every voxel: [D, H, W, 3].
at::Tensor voxel_points(const Volume& v) {
  const auto& g = v.geometry;
  const at::Tensor k = at::arange(v.voxels.size(0), at::kDouble).view({-1, 1, 1});
  const at::Tensor j = at::arange(v.voxels.size(1), at::kDouble).view({1, -1, 1});
  const at::Tensor i = at::arange(v.voxels.size(2), at::kDouble).view({1, 1, -1});
  std::vector<at::Tensor> axes;
  for (int r = 0; r < 3; ++r)
    axes.push_back(g.origin[r] + g.direction[r * 3 + 0] * g.spacing[0] * i +
                   g.direction[r * 3 + 1] * g.spacing[1] * j + g.direction[r * 3 + 2] * g.spacing[2] * k);
  return at::stack(axes, -1);
}

// Ventricles of ch2bet: dark voxels inside the brain and the ventricle ellipsoid, keeping the
// connected components of at least kVentricleMinVoxels.
Volume derive_ventricles(const Volume& t1) {
  const at::Tensor points = voxel_points(t1);
  at::Tensor rho = at::zeros(t1.voxels.sizes(), at::kDouble);
  for (int r = 0; r < 3; ++r)
    rho += ((points.select(-1, r) - kVentricleCentre[r]) / kVentricleSemiAxes[r]).square();
  const at::Tensor dark = (t1.voxels > 0) & (t1.voxels < kCsfBelow) & (rho < 1);

  using Mask = itk::Image<unsigned char, 3>;
  using Labels = itk::Image<unsigned int, 3>;
  auto image = to_itk<3>(Volume{dark.to(at::kFloat), t1.geometry});
  auto mask = Mask::New();
  mask->CopyInformation(image);
  mask->SetRegions(image->GetLargestPossibleRegion());
  mask->Allocate();
  const at::Tensor bytes = dark.to(at::kByte).contiguous();
  std::copy_n(bytes.data_ptr<std::uint8_t>(), bytes.numel(), mask->GetBufferPointer());
  auto components = itk::ConnectedComponentImageFilter<Mask, Labels>::New();
  components->SetInput(mask);
  auto relabel = itk::RelabelComponentImageFilter<Labels, Labels>::New();
  relabel->SetInput(components->GetOutput());
  relabel->SetMinimumObjectSize(kVentricleMinVoxels);
  relabel->Update();
  Volume out{at::empty(t1.voxels.sizes(), at::kFloat), t1.geometry};
  const unsigned int* labels = relabel->GetOutput()->GetBufferPointer();
  float* dst = out.voxels.data_ptr<float>();
  for (std::int64_t n = 0; n < out.voxels.numel(); ++n) dst[n] = labels[n] > 0 ? 1.0f : 0.0f;
  return out;
}

// Signed Euclidean distance (mm) to the boundary of `mask`, negative inside.
at::Tensor signed_distance(const Volume& mask) {
  using Mask = itk::Image<unsigned char, 3>;
  auto reference = to_itk<3>(mask);
  auto binary = Mask::New();
  binary->CopyInformation(reference);
  binary->SetRegions(reference->GetLargestPossibleRegion());
  binary->Allocate();
  const at::Tensor bytes = (mask.voxels > 0.5).to(at::kByte).contiguous();
  std::copy_n(bytes.data_ptr<std::uint8_t>(), bytes.numel(), binary->GetBufferPointer());
  auto distance = itk::SignedMaurerDistanceMapImageFilter<Mask, FloatImage<3>>::New();
  distance->SetInput(binary);
  distance->SetUseImageSpacing(true);
  distance->SetSquaredDistance(false);
  distance->SetInsideIsPositive(false);
  distance->Update();
  return from_itk<3>(distance->GetOutput()).voxels;
}

// D smoothed over 3×3×3 twice (≈ Gaussian, σ ≈ 1 voxel) so its gradient is continuous across the
// medial axis, and that gradient by central differences: channels D, ∂D/∂i, ∂D/∂j, ∂D/∂k.
at::Tensor distance_with_normal(const Volume& mask) {
  at::Tensor d = signed_distance(mask).unsqueeze(0).unsqueeze(0);
  for (int pass = 0; pass < 2; ++pass)
    d = at::avg_pool3d(at::replication_pad3d(d, {1, 1, 1, 1, 1, 1}), 3, 1);
  const at::Tensor padded = at::replication_pad3d(d, {1, 1, 1, 1, 1, 1})[0][0];
  const double h2 = 2.0 * mask.geometry.spacing[0];
  using at::indexing::Slice;
  const Slice mid(1, -1), lo(0, -2), hi(2, at::indexing::None);
  const at::Tensor gi = (padded.index({mid, mid, hi}) - padded.index({mid, mid, lo})) / h2;
  const at::Tensor gj = (padded.index({mid, hi, mid}) - padded.index({mid, lo, mid})) / h2;
  const at::Tensor gk = (padded.index({hi, mid, mid}) - padded.index({lo, mid, mid})) / h2;
  return at::stack({d[0][0], gi, gj, gk});
}

Region region_of(const at::Tensor& selected, const std::string& what) {
  const at::Tensor idx = at::nonzero(selected).to(at::kDouble);  // [n, 3] in (k, j, i)
  if (idx.size(0) == 0) throw Error("synthetic-brain: the atlas has no " + what + " at this size");
  Region region;
  for (int a = 0; a < 3; ++a) {
    const at::Tensor column = idx.select(1, 2 - a);
    region.centre[a] = column.mean().item<double>();
    region.radius[a] = (column - region.centre[a]).abs().max().item<double>() + 0.5;
  }
  return region;
}

std::shared_ptr<const BrainAtlas> build(const std::string& folder, std::int64_t size) {
  const auto file = [&](const char* name) {
    const std::string path = (fs::path(folder) / name).string();
    if (!fs::exists(path))
      throw Error(path + ": missing template; install Debian's mricron-data or point the "
                  "templates option at a folder with ch2bet, aal and JHU-WhiteMatter-labels-1mm");
    return read_volume(path, 3);
  };
  const Volume t1 = file("ch2bet.nii.gz");
  const Volume aal = file("aal.nii.gz");
  const Volume jhu = file("JHU-WhiteMatter-labels-1mm.nii.gz");
  const Volume ventricles = derive_ventricles(t1);

  // A cube around the brain's physical bounding box, 4 % margin.
  const at::Tensor brain_points = voxel_points(t1).index({t1.voxels > 0});
  const at::Tensor lo = std::get<0>(brain_points.min(0)), hi = std::get<0>(brain_points.max(0));
  const double side = 1.04 * (hi - lo).max().item<double>();
  const double h = side / static_cast<double>(size);
  auto atlas = std::make_shared<BrainAtlas>();
  atlas->size = size;
  Geometry& g = atlas->geometry;
  g.direction = t1.geometry.direction;
  g.spacing = {h, h, h};
  for (int r = 0; r < 3; ++r) {
    g.origin[r] = 0.5 * (lo[r].item<double>() + hi[r].item<double>());
    for (int c = 0; c < 3; ++c) g.origin[r] -= g.direction[r * 3 + c] * h * 0.5 * static_cast<double>(size - 1);
  }
  const std::array<std::int64_t, 3> grid{size, size, size};
  const auto nearest = [&](const Volume& v) {
    return resample_to_grid(v, g, grid, Interpolation::Nearest).voxels;
  };
  const at::Tensor brain_t1 = t1.voxels.index({t1.voxels > 0});
  const double p99 = std::get<0>(brain_t1.kthvalue(static_cast<std::int64_t>(0.99 * brain_t1.numel()))).item<double>();
  Volume t1_grid = resample_to_grid(t1, g, grid, Interpolation::Linear);
  const Volume ventricles_grid{nearest(ventricles), g};
  const Volume brain{(t1.voxels > 0).to(at::kFloat), t1.geometry};
  const at::Tensor aal_grid = nearest(aal);
  const Volume hippocampi_grid{((aal_grid == 37) | (aal_grid == 38)).to(at::kFloat), g};
  atlas->linear = at::cat({(t1_grid.voxels / p99).unsqueeze(0), signed_distance(ventricles_grid).clamp_min(0).unsqueeze(0),
                           distance_with_normal(hippocampi_grid), distance_with_normal(ventricles_grid)})
                      .unsqueeze(0)
                      .contiguous();
  atlas->nearest =
      at::stack({aal_grid, nearest(jhu), ventricles_grid.voxels, nearest(brain)}).unsqueeze(0).contiguous();
  atlas->hippocampus[0] = region_of(aal_grid == 37, "left hippocampus (AAL 37)");
  atlas->hippocampus[1] = region_of(aal_grid == 38, "right hippocampus (AAL 38)");
  atlas->ventricles = region_of(ventricles_grid.voxels > 0.5, "ventricles");
  return atlas;
}

}  // namespace

std::shared_ptr<const BrainAtlas> load_brain_atlas(const std::string& folder, std::int64_t size) {
  static std::mutex mutex;
  static std::map<std::pair<std::string, std::int64_t>, std::shared_ptr<const BrainAtlas>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto& entry = cache[{folder, size}];
  if (!entry) entry = build(folder, size);
  return entry;
}

}  // namespace whatif::data

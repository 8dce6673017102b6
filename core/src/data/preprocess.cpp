// Preprocessing through ITK: orientation, resampling (anti-aliased), crop/pad, normalisation.
#include "whatif/data/preprocess.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include <itkLinearInterpolateImageFunction.h>
#include <itkNearestNeighborInterpolateImageFunction.h>
#include <itkRecursiveGaussianImageFilter.h>
#include <itkResampleImageFilter.h>

#include "data/itk_image.hpp"
#include "whatif/registry/error.hpp"

namespace whatif::data {
namespace {

// Gaussian anti-aliasing along the input axes that the output grid samples more coarsely:
// σ = ½·sqrt(t² − s²) mm for input spacing s and output spacing t along the same direction.
template <unsigned Dim>
typename FloatImage<Dim>::Pointer anti_alias(typename FloatImage<Dim>::Pointer image,
                                             const Geometry& target) {
  for (unsigned a = 0; a < Dim; ++a) {
    unsigned best = 0;
    double best_dot = -1;
    for (unsigned b = 0; b < Dim; ++b) {
      double dot = 0;
      for (unsigned r = 0; r < Dim; ++r)
        dot += image->GetDirection()[r][a] * target.direction[r * 3 + b];
      if (std::abs(dot) > best_dot) best_dot = std::abs(dot), best = b;
    }
    const double s = image->GetSpacing()[a], t = target.spacing[best];
    if (t <= s * 1.01 || image->GetLargestPossibleRegion().GetSize()[a] < 4) continue;
    using Gaussian = itk::RecursiveGaussianImageFilter<FloatImage<Dim>, FloatImage<Dim>>;
    auto gaussian = Gaussian::New();
    gaussian->SetInput(image);
    gaussian->SetDirection(a);
    gaussian->SetOrder(itk::GaussianOrderEnum::ZeroOrder);
    gaussian->SetNormalizeAcrossScale(false);
    gaussian->SetSigma(0.5 * std::sqrt(t * t - s * s));
    gaussian->Update();
    image = gaussian->GetOutput();
    image->DisconnectPipeline();
  }
  return image;
}

template <unsigned Dim>
Volume resample_as(const Volume& volume, const Geometry& geometry,
                   const std::array<std::int64_t, 3>& size, Interpolation interpolation,
                   float outside_value) {
  using Image = FloatImage<Dim>;
  auto image = to_itk<Dim>(volume);
  if (interpolation == Interpolation::Linear) image = anti_alias<Dim>(image, geometry);
  using Resample = itk::ResampleImageFilter<Image, Image>;
  auto resample = Resample::New();
  resample->SetInput(image);
  if (interpolation == Interpolation::Linear)
    resample->SetInterpolator(itk::LinearInterpolateImageFunction<Image, double>::New());
  else
    resample->SetInterpolator(itk::NearestNeighborInterpolateImageFunction<Image, double>::New());
  typename Image::SizeType out_size;
  typename Image::SpacingType spacing;
  typename Image::PointType origin;
  typename Image::DirectionType direction;
  for (unsigned a = 0; a < Dim; ++a) {
    if (size[a] < 1) throw Error("resample: output size must be positive");
    out_size[a] = static_cast<itk::SizeValueType>(size[a]);
    spacing[a] = geometry.spacing[a];
    origin[a] = geometry.origin[a];
    for (unsigned b = 0; b < Dim; ++b) direction[a][b] = geometry.direction[a * 3 + b];
  }
  resample->SetSize(out_size);
  resample->SetOutputSpacing(spacing);
  resample->SetOutputOrigin(origin);
  resample->SetOutputDirection(direction);
  resample->SetDefaultPixelValue(outside_value);
  resample->Update();
  return from_itk<Dim>(resample->GetOutput(), geometry);
}

std::array<std::int64_t, 3> size_xyz(const Volume& volume) {
  std::array<std::int64_t, 3> size{1, 1, 1};
  for (int a = 0; a < volume.dims(); ++a) size[a] = volume.voxels.size(volume.dims() - 1 - a);
  return size;
}

}  // namespace

Volume reorient_ras(const Volume& volume) {
  // Axis permutations and flips only (as ITK's OrientImageFilter does, but for 2D too): index
  // axis a goes to the physical axis it runs closest to, flipped when it runs against RAS.
  const int dims = volume.dims();
  const double ras_sign[3] = {-1, -1, 1};  // RAS+ in LPS coordinates
  const Geometry& g = volume.geometry;
  std::array<int, 3> source_of{0, 1, 2};  // physical axis r ← index axis source_of[r]
  std::array<bool, 3> taken{false, false, false};
  for (int r = 0; r < dims; ++r) {
    int best = -1;
    for (int a = 0; a < dims; ++a)
      if (!taken[a] && (best < 0 || std::abs(g.direction[r * 3 + a]) > std::abs(g.direction[r * 3 + best])))
        best = a;
    source_of[r] = best;
    taken[best] = true;
  }
  Volume out;
  out.geometry = g;
  std::vector<std::int64_t> permutation(dims);
  std::vector<std::int64_t> flips;
  for (int r = 0; r < dims; ++r) {
    const int a = source_of[r];
    permutation[dims - 1 - r] = dims - 1 - a;  // tensor axes run (z,) y, x
    const bool flip = g.direction[r * 3 + a] * ras_sign[r] < 0;
    const std::int64_t n = volume.voxels.size(dims - 1 - a);
    out.geometry.spacing[r] = g.spacing[a];
    for (int row = 0; row < 3; ++row) {
      out.geometry.direction[row * 3 + r] = (flip ? -1 : 1) * g.direction[row * 3 + a];
      if (flip) out.geometry.origin[row] += g.direction[row * 3 + a] * g.spacing[a] * static_cast<double>(n - 1);
    }
    if (flip) flips.push_back(dims - 1 - r);
  }
  out.voxels = volume.voxels.permute(permutation);
  if (!flips.empty()) out.voxels = out.voxels.flip(flips);
  out.voxels = out.voxels.contiguous();
  return out;
}

Volume resample_to_grid(const Volume& volume, const Geometry& geometry,
                        const std::array<std::int64_t, 3>& size, Interpolation interpolation,
                        float outside_value) {
  return volume.dims() == 3 ? resample_as<3>(volume, geometry, size, interpolation, outside_value)
                            : resample_as<2>(volume, geometry, size, interpolation, outside_value);
}

Volume resample_to_spacing(const Volume& volume, const std::array<double, 3>& spacing,
                           Interpolation interpolation) {
  const auto size = size_xyz(volume);
  Geometry target = volume.geometry;
  std::array<std::int64_t, 3> out_size = size;
  std::array<double, 3> shift{0, 0, 0};  // keeps the field of view's outer edge in place
  for (int a = 0; a < volume.dims(); ++a) {
    if (!(spacing[a] > 0)) throw Error("resample: spacing must be positive");
    const double extent = static_cast<double>(size[a]) * volume.geometry.spacing[a];
    out_size[a] = std::max<std::int64_t>(1, std::llround(extent / spacing[a]));
    target.spacing[a] = spacing[a];
    shift[a] = 0.5 * (spacing[a] - volume.geometry.spacing[a]);
  }
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < volume.dims(); ++c)
      target.origin[r] += volume.geometry.direction[r * 3 + c] * shift[c];
  return resample_to_grid(volume, target, out_size, interpolation);
}

Volume crop_or_pad(const Volume& volume, const std::array<std::int64_t, 3>& size, float pad_value) {
  const int dims = volume.dims();
  const auto old_size = size_xyz(volume);
  std::vector<std::int64_t> shape(dims);
  std::array<double, 3> start_index{0, 0, 0};
  std::vector<at::indexing::TensorIndex> src, dst;
  // Reserved: moving a TensorIndex (when a vector grows) reads a member its constructor left unset.
  src.reserve(static_cast<std::size_t>(dims));
  dst.reserve(static_cast<std::size_t>(dims));
  for (int t = 0; t < dims; ++t) {  // tensor axis t holds physical axis dims-1-t
    const int a = dims - 1 - t;
    const std::int64_t n = old_size[a], m = size[a];
    if (m < 1) throw Error("crop/pad: size must be positive");
    const std::int64_t start = (n - m) / 2;  // negative: pad before
    shape[t] = m;
    start_index[a] = static_cast<double>(start);
    const std::int64_t lo = std::max<std::int64_t>(start, 0), hi = std::min(n, start + m);
    src.emplace_back(at::indexing::Slice(lo, hi));
    dst.emplace_back(at::indexing::Slice(lo - start, hi - start));
  }
  Volume out;
  out.voxels = at::full(shape, pad_value, at::kFloat);
  out.voxels.index_put_(dst, volume.voxels.index(src));
  out.geometry = volume.geometry;
  out.geometry.origin = volume.geometry.index_to_point(start_index);
  if (dims == 2) out.geometry.origin[2] = volume.geometry.origin[2];
  return out;
}

std::pair<double, double> normalize_percentile(Volume& volume, double low, double high) {
  if (!(low >= 0 && low < high && high <= 100))
    throw Error("normalize: percentiles must satisfy 0 <= low < high <= 100");
  // kthvalue (selection, not a sort) and no size limit, unlike at::quantile; nearest rank.
  const at::Tensor flat = volume.voxels.flatten().to(at::kFloat);
  const auto rank = [&](double p) {
    return 1 + std::llround(p / 100.0 * static_cast<double>(flat.numel() - 1));
  };
  const double lo = std::get<0>(flat.kthvalue(rank(low))).item<double>();
  const double hi = std::get<0>(flat.kthvalue(rank(high))).item<double>();
  normalize_window(volume, lo, hi);
  return {lo, hi};
}

void normalize_window(Volume& volume, double low, double high) {
  const double width = high > low ? high - low : 1.0;
  volume.voxels = ((volume.voxels - low) / width).clamp(0.0, 1.0).to(at::kFloat);
}

std::string intensity_units(const PreprocessOptions& options) {
  std::ostringstream out;
  if (options.normalize == "percentile")
    out << "0..1: each volume's percentiles " << options.low << " to " << options.high << " mapped to 0..1, clipped";
  else if (options.normalize == "window")
    out << "0..1: the window [" << options.low << ", " << options.high << "] of the source's units (HU for CT), clipped";
  else
    out << "the source's units (HU for CT)";
  return out.str();
}

Volume preprocess(const Volume& volume, const PreprocessOptions& options,
                  std::map<std::string, double>& record) {
  const char* axis = "xyz";
  const auto source_size = size_xyz(volume);
  for (int a = 0; a < volume.dims(); ++a) {
    record[std::string("source_spacing_") + axis[a]] = volume.geometry.spacing[a];
    record[std::string("source_size_") + axis[a]] = static_cast<double>(source_size[a]);
  }
  Volume out = options.reorient ? reorient_ras(volume) : volume;
  double spacing = options.spacing;
  if (spacing <= 0) {
    const auto size = size_xyz(out);
    for (int a = 0; a < out.dims(); ++a)
      if (options.size[a] > 0)
        spacing = std::max(spacing, size[a] * out.geometry.spacing[a] / static_cast<double>(options.size[a]));
  }
  if (spacing > 0) {
    out = resample_to_spacing(out, {spacing, spacing, spacing}, Interpolation::Linear);
    record["spacing"] = spacing;
  }
  if (options.size[0] > 0 || options.size[1] > 0 || options.size[2] > 0) {
    auto size = size_xyz(out);
    for (int a = 0; a < out.dims(); ++a)
      if (options.size[a] > 0) size[a] = options.size[a];
    out = crop_or_pad(out, size);
  }
  if (options.normalize == "percentile") {
    const auto [lo, hi] = normalize_percentile(out, options.low, options.high);
    record["norm_low"] = lo;
    record["norm_high"] = hi;
  } else if (options.normalize == "window") {
    normalize_window(out, options.low, options.high);
    record["norm_low"] = options.low;
    record["norm_high"] = options.high;
  } else if (options.normalize != "none") {
    throw Error("normalize '" + options.normalize + "': expected percentile, window or none");
  }
  return out;
}

}  // namespace whatif::data

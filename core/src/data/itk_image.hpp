#pragma once
// Conversions between whatif volumes and ITK images. Private to whatif_data: only the .cpp files
// that use ITK include ITK headers.
#include <cstring>

#include <ATen/ATen.h>
#include <itkImage.h>

#include "whatif/data/volume.hpp"

namespace whatif::data {

template <unsigned Dim>
using FloatImage = itk::Image<float, Dim>;

template <unsigned Dim>
typename FloatImage<Dim>::Pointer to_itk(const Volume& volume) {
  using Image = FloatImage<Dim>;
  const at::Tensor voxels = volume.voxels.to(at::kFloat).contiguous();
  typename Image::SizeType size;
  typename Image::SpacingType spacing;
  typename Image::PointType origin;
  typename Image::DirectionType direction;
  for (unsigned a = 0; a < Dim; ++a) {
    size[a] = static_cast<itk::SizeValueType>(voxels.size(Dim - 1 - a));
    spacing[a] = volume.geometry.spacing[a];
    origin[a] = volume.geometry.origin[a];
    for (unsigned b = 0; b < Dim; ++b) direction[a][b] = volume.geometry.direction[a * 3 + b];
  }
  auto image = Image::New();
  image->SetRegions(typename Image::RegionType(size));
  image->SetSpacing(spacing);
  image->SetOrigin(origin);
  image->SetDirection(direction);
  image->Allocate();
  std::memcpy(image->GetBufferPointer(), voxels.data_ptr<float>(),
              sizeof(float) * static_cast<std::size_t>(voxels.numel()));
  return image;
}

// The z entries of a 2D image's geometry are taken from `fallback` (spacing 1, origin 0).
template <unsigned Dim>
Volume from_itk(const FloatImage<Dim>* image, const Geometry& fallback = {}) {
  const auto size = image->GetLargestPossibleRegion().GetSize();
  std::vector<std::int64_t> shape;
  for (unsigned a = Dim; a-- > 0;) shape.push_back(static_cast<std::int64_t>(size[a]));
  Volume volume;
  volume.geometry = fallback;
  for (unsigned a = 0; a < Dim; ++a) {
    volume.geometry.spacing[a] = image->GetSpacing()[a];
    volume.geometry.origin[a] = image->GetOrigin()[a];
    for (unsigned b = 0; b < Dim; ++b)
      volume.geometry.direction[a * 3 + b] = image->GetDirection()[a][b];
  }
  volume.voxels = at::empty(shape, at::kFloat);
  std::memcpy(volume.voxels.data_ptr<float>(), image->GetBufferPointer(),
              sizeof(float) * static_cast<std::size_t>(volume.voxels.numel()));
  return volume;
}

}  // namespace whatif::data

#pragma once
// A scalar image and its place in the scanner: voxels as a tensor, geometry in ITK's LPS
// convention. Reading and writing go through ITK (NIfTI .nii/.nii.gz, NRRD, MHA, a DICOM series
// folder, PNG for 2D) and keep spacing, origin and direction end to end.
#include <array>
#include <string>

#include "whatif/tensor.hpp"

namespace whatif {
struct Example;
}

namespace whatif::data {

// Physical placement of a grid. Axis order is (x, y, z) = tensor axes (W, H, D): index (i, j, k)
// maps to origin + direction · diag(spacing) · (i, j, k) in LPS millimetres, as ITK defines it.
struct Geometry {
  std::array<double, 3> spacing{1.0, 1.0, 1.0};
  std::array<double, 3> origin{0.0, 0.0, 0.0};
  std::array<double, 9> direction{1, 0, 0, 0, 1, 0, 0, 0, 1};  // row-major 3×3

  // The NIfTI (RAS) affine of this grid: what nibabel's `img.affine` gives, row-major 4×4.
  std::array<double, 16> ras_affine() const;
  // Physical LPS point of a continuous index (i, j, k).
  std::array<double, 3> index_to_point(const std::array<double, 3>& index) const;
  std::array<double, 3> point_to_index(const std::array<double, 3>& point) const;
};

struct Volume {
  at::Tensor voxels;  // float32, [D, H, W] (3D) or [H, W] (2D)
  Geometry geometry;
  // The voxel type of the file it was read from: uint8, int8, uint16, int16, uint32, int32,
  // float32 or float64 ("float32" for scaled NIfTI data, DICOM series and computed volumes).
  std::string source_type = "float32";

  int dims() const { return static_cast<int>(voxels.dim()); }
  double voxel_volume_mm3() const;  // spacing product over the image's dimensions (z too in 2D)
};

Geometry geometry_of(const Example& example);
void set_geometry(Example& example, const Geometry& geometry);

// Reads a 2D or 3D scalar image (a folder reads as a DICOM series). Throws Error naming `path`
// when the file is missing, unreadable or truncated, has another number of dimensions than
// `expected_dims` (0 accepts 2 or 3), has more than one component, or holds NaN/Inf voxels.
Volume read_volume(const std::string& path, int expected_dims = 0);

// Writes `volume` (format from the extension; .png stores 8 bits, intensities rescaled to 0–255).
// The file appears complete or not at all: it is written under a temporary name and renamed.
void write_volume(const Volume& volume, const std::string& path);

}  // namespace whatif::data

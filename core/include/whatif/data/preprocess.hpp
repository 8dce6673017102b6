#pragma once
// Preprocessing of medical volumes through ITK. Each step keeps the physical placement of the
// anatomy; `preprocess` chains them and records what it did as example attributes.
#include <array>
#include <map>
#include <string>

#include "whatif/data/volume.hpp"

namespace whatif::data {

enum class Interpolation { Linear, Nearest };

// Permutes/flips axes so the direction is the closest to NIfTI RAS+ (LPS diag(-1, -1, 1)), the
// orientation of the MNI templates: index i runs to the right, j anterior, k superior.
Volume reorient_ras(const Volume& volume);

// Resamples onto `geometry` with `size` (x, y, z; z ignored in 2D). Linear resampling first
// smooths with a Gaussian along axes that get coarser, so downsampling does not alias.
Volume resample_to_grid(const Volume& volume, const Geometry& geometry,
                        const std::array<std::int64_t, 3>& size, Interpolation interpolation,
                        float outside_value = 0.0f);

// Resamples to `spacing` (mm) over the same physical extent.
Volume resample_to_spacing(const Volume& volume, const std::array<double, 3>& spacing,
                           Interpolation interpolation);

// Centre crop or pad (with `pad_value`) to `size` (x, y, z); origin moves so anatomy stays put.
Volume crop_or_pad(const Volume& volume, const std::array<std::int64_t, 3>& size,
                   float pad_value = 0.0f);

// Maps the `low`..`high` percentiles of the voxels to 0..1, clipping outside. Returns the
// intensities the percentiles fell on.
std::pair<double, double> normalize_percentile(Volume& volume, double low = 1.0, double high = 99.0);
// Maps the window [low, high] (e.g. Hounsfield units) to 0..1, clipping outside.
void normalize_window(Volume& volume, double low, double high);

struct PreprocessOptions {
  bool reorient = true;
  double spacing = 0.0;  // isotropic target spacing in mm; 0 keeps the source spacing
  // Output grid (x, y, z) in voxels; 0 on an axis keeps that axis's size (z is ignored in 2D).
  // All zero and no spacing: the source grid is kept (reoriented only).
  std::array<std::int64_t, 3> size{0, 0, 0};
  std::string normalize = "percentile";  // percentile | window | none
  double low = 1.0;        // percentile, or window low
  double high = 99.0;      // percentile, or window high
};

// What `preprocess` leaves the intensities in, in words (a store's `units` attribute).
std::string intensity_units(const PreprocessOptions& options);

// reorient → resample (to `spacing`; or, with only `size`, to the isotropic spacing that fits the
// largest extent into its axis's `size`) → crop/pad to `size` → normalise. Adds to `record`: source_spacing_*,
// source_size_*, spacing, norm_low, norm_high.
Volume preprocess(const Volume& volume, const PreprocessOptions& options,
                  std::map<std::string, double>& record);

}  // namespace whatif::data

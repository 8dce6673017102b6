#pragma once
// Stored sample volumes as compressed NIfTI: what the HTML report writes beside the results and
// embeds in the page, and what `whatif serve` sends for a playground pair. The files carry the grid
// the run recorded for the sample (ctx:sample's geometry, a saved model's data); without one they
// are 1 mm isotropic at the origin.
#include <string>

#include "whatif/data/volume.hpp"
#include "whatif/tensor.hpp"

namespace whatif {

// The image of a stored sample: its first example's first channel ([N, C, (D,) H, W] or fewer
// leading axes) as [H, W] or [D, H, W] float32; undefined when it has no 2 or 3 spatial axes.
at::Tensor sample_image(const at::Tensor& sample);

// Writes `image` ([H, W] or [D, H, W]) to `path` (.nii.gz) and returns the file's bytes.
std::string write_sample_nifti(const at::Tensor& image, const data::Geometry& geometry, const std::string& path);

// The bytes of `image` as a .nii.gz file, through a temporary file.
std::string sample_nifti_bytes(const at::Tensor& image, const data::Geometry& geometry);

// RFC 4648 base64, for volumes embedded in the page and sent as JSON.
std::string base64(const std::string& bytes);

}  // namespace whatif

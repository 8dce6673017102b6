#pragma once
// A PNG for eyeballing one example: axial, coronal and sagittal slices side by side (one panel in
// 2D) with the mask's labels outlined in colour (1 red, 2 blue, 3 yellow, 4 green, 5 magenta). The
// slices pass through the middle, or, when the mask is not empty, through the planes holding the
// most mask voxels.
#include <string>

#include "whatif/dataset.hpp"

namespace whatif::data {

void write_montage_png(const Example& example, const std::string& path);

}  // namespace whatif::data

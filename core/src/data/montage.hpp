#pragma once
// A PNG for eyeballing one example: axial, coronal and sagittal mid-slices side by side (one panel
// in 2D), the mask drawn over them in colour (1 red, 2 blue, other labels yellow).
#include <string>

#include "whatif/dataset.hpp"

namespace whatif::data {

void write_montage_png(const Example& example, const std::string& path);

}  // namespace whatif::data

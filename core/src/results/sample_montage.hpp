#pragma once
// The picture of one arm's stored samples in a report: mid-slices side by side at a readable
// size, on one intensity scale, in the order the script stored them, and — when there are two or
// more — the difference of the last and the first (mid-grey is no change, brighter is an
// increase), so a counterfactual pair reads factual | counterfactual | difference.
#include <string>
#include <vector>

#include "whatif/tensor.hpp"

namespace whatif {

struct MontageLayout {
  std::vector<std::string> panels;  // captions left to right
  std::int64_t height = 0, width = 0;
};

// Writes the montage PNG to `path`; returns its layout, or no panels when nothing could be shown
// (no sample has 2 or 3 spatial dimensions).
MontageLayout write_sample_montage(const std::string& path, const NamedTensors& samples,
                                   std::int64_t min_height = 160);

}  // namespace whatif

#pragma once
// What a model was trained on, as checkpoints and saved models record it.
#include <string>

#include "whatif/dataset.hpp"

namespace whatif {

// JSON: the dataset's kind/name/plugin/version, its options, its size, the intensity units it
// reports, the length unit (mm) and the first example's grid (`geometry`, results/geometry_json.hpp).
std::string describe_data(const Dataset& data);

}  // namespace whatif

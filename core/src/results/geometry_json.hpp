#pragma once
// A grid's placement (spacing, origin, direction in ITK's LPS convention) as JSON, for what a run
// records beside its samples and a saved model beside its data description:
// {"spacing": [x, y, z], "origin": [x, y, z], "direction": [9 numbers, row-major]}.
#include <string>

#include <nlohmann/json.hpp>

#include "whatif/dataset.hpp"
#include "whatif/data/volume.hpp"

namespace whatif {

// The grid of `example` (data::geometry_of's, for code outside libwhatif-data).
data::Geometry example_geometry(const Example& example);

nlohmann::json geometry_json(const data::Geometry& geometry);

// Reads what geometry_json wrote. Throws Error naming `where` when a field is missing, has the
// wrong length, or holds a non-finite number, a spacing ≤ 0 or a singular direction.
data::Geometry geometry_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace whatif

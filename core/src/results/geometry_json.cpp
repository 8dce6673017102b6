#include "results/geometry_json.hpp"

#include <cmath>

#include "whatif/registry/error.hpp"

namespace whatif {
namespace {

template <std::size_t N>
std::array<double, N> numbers(const nlohmann::json& j, const char* field, const std::string& where) {
  const auto it = j.find(field);
  if (it == j.end() || !it->is_array() || it->size() != N)
    throw Error(where + ": geometry field '" + field + "' must be a list of " + std::to_string(N) + " numbers");
  std::array<double, N> out{};
  for (std::size_t i = 0; i < N; ++i) {
    if (!(*it)[i].is_number() || !std::isfinite((*it)[i].get<double>()))
      throw Error(where + ": geometry field '" + field + "' holds a value that is not a finite number");
    out[i] = (*it)[i].get<double>();
  }
  return out;
}

}  // namespace

nlohmann::json geometry_json(const data::Geometry& geometry) {
  return {{"spacing", geometry.spacing}, {"origin", geometry.origin}, {"direction", geometry.direction}};
}

data::Geometry example_geometry(const Example& example) {
  return data::Geometry{example.spacing, example.origin, example.direction};
}

data::Geometry geometry_from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": geometry must be {spacing = {x, y, z}, origin = {x, y, z}, direction = {9 numbers}}");
  data::Geometry g;
  g.spacing = numbers<3>(j, "spacing", where);
  for (const double s : g.spacing)
    if (s <= 0) throw Error(where + ": geometry spacing must be positive millimetres");
  if (j.contains("origin")) g.origin = numbers<3>(j, "origin", where);
  if (j.contains("direction")) g.direction = numbers<9>(j, "direction", where);
  const auto& d = g.direction;
  const double det = d[0] * (d[4] * d[8] - d[5] * d[7]) - d[1] * (d[3] * d[8] - d[5] * d[6]) +
                     d[2] * (d[3] * d[7] - d[4] * d[6]);
  if (!(std::abs(det) > 1e-6)) throw Error(where + ": geometry direction is singular (its determinant is " + std::to_string(det) + ")");
  return g;
}

}  // namespace whatif

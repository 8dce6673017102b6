#include <cmath>
#include <string>

#include <whatif/registry/error.hpp>

#include "schedules.hpp"

namespace whatif_schedules {

double log_resolution_ratio(double size, double base_size, std::int64_t spatial_dims) {
  if (!(size > 0) || !std::isfinite(size))
    throw whatif::Error("option 'size' (image side in pixels/voxels) must be positive, got " +
                        std::to_string(size));
  if (!(base_size > 0) || !std::isfinite(base_size))
    throw whatif::Error("option 'base_size' must be positive, got " + std::to_string(base_size));
  if (spatial_dims != 2 && spatial_dims != 3)
    throw whatif::Error("option 'spatial_dims' must be 2 or 3, got " +
                        std::to_string(spatial_dims));
  return static_cast<double>(spatial_dims) * std::log(size / base_size);
}

}  // namespace whatif_schedules

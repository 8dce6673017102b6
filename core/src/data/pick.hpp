#pragma once
// What the report writers share: one of several phrasings, drawn uniformly.
#include <random>
#include <string>
#include <vector>

namespace whatif::data {

inline std::string pick(std::mt19937_64& rng, const std::vector<std::string>& options) {
  return options[rng() % options.size()];
}

}  // namespace whatif::data

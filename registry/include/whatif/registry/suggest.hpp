#pragma once
// "did you mean …" for unknown names: the closest candidate by edit distance.
#include <string>
#include <vector>

namespace whatif {

// Levenshtein distance between two strings (case-sensitive).
std::size_t edit_distance(const std::string& a, const std::string& b);

// The candidate closest to `name`, or "" when none is close enough to be a plausible typo
// (distance at most max(2, |name| / 3)).
std::string closest_name(const std::string& name, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or "" — ready to append to an error message.
std::string did_you_mean(const std::string& name, const std::vector<std::string>& candidates);

}  // namespace whatif

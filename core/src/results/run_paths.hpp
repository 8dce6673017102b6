#pragma once
// The path rule for scripts (DESIGN.md §11): every path a script names resolves inside its run
// directory — relative paths are taken from there — after symlinks are resolved; reads may also
// come from a few read-only roots (the script's folder, scripts/). Anything else is refused.
#include <string>
#include <vector>

namespace whatif {

// `path` resolved in `run_dir` and checked to lie inside it, or inside one of `read_roots` when
// given (reads). Throws Error naming the path, what it resolved to and the rule.
std::string confined_path(const std::string& run_dir, const std::string& path,
                          const std::vector<std::string>& read_roots = {});

}  // namespace whatif

#include "results/run_paths.hpp"

#include <algorithm>
#include <filesystem>

#include "whatif/registry/error.hpp"

namespace whatif {
namespace fs = std::filesystem;
namespace {

// `path` and `root` with symlinks of their existing parts resolved; true when `path` is `root` or
// below it.
bool inside(const fs::path& path, const fs::path& root) {
  const fs::path p = fs::weakly_canonical(path), r = fs::weakly_canonical(root);
  auto pi = p.begin(), ri = r.begin();
  for (; ri != r.end(); ++ri, ++pi) {
    if (ri->empty()) continue;  // a trailing separator
    if (pi == p.end() || *pi != *ri) return false;
  }
  return true;
}

}  // namespace

std::string confined_path(const std::string& run_dir, const std::string& path,
                          const std::vector<std::string>& read_roots) {
  if (path.empty()) throw Error("an empty path; name a file inside the run directory");
  const fs::path root = fs::absolute(run_dir.empty() ? fs::current_path() : fs::path(run_dir));
  const fs::path given(path);
  const fs::path resolved = given.is_absolute() ? given : root / given;
  if (inside(resolved, root)) return resolved.lexically_normal().string();
  for (const auto& extra : read_roots)
    if (inside(resolved, fs::absolute(extra))) return resolved.lexically_normal().string();
  throw Error("path '" + path + "' resolves to " + fs::weakly_canonical(resolved).string() +
              ", outside the run directory " + root.string() +
              (read_roots.empty() ? "; scripts write only inside it (relative paths start there)"
                                  : "; scripts read only from it, their own folder and scripts/"));
}

}  // namespace whatif

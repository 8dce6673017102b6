#include "results/web_assets.hpp"

#include <cstdlib>
#include <filesystem>

#include "whatif/registry/error.hpp"

namespace whatif {
namespace web {
// Generated from web/ by cmake/EmbedWebPage.cmake.
extern const char report_js[];
extern const char report_css[];
extern const char playground_js[];
}  // namespace web

namespace fs = std::filesystem;

const std::vector<VendoredScript>& vendored_scripts() {
  static const std::vector<VendoredScript> scripts{
      {"vega.min.js", "vega/build/vega.min.js"},
      {"vega-lite.min.js", "vega-lite/build/vega-lite.min.js"},
      {"vega-embed.min.js", "vega-embed/build/vega-embed.min.js"},
      {"niivue.umd.js", "@niivue/niivue/dist/niivue.umd.js"}};
  return scripts;
}

std::string vendored_root() {
  if (const char* dir = std::getenv("WHATIF_WEB_DIR"); dir && *dir) return dir;
  return WHATIF_WEB_VENDOR_DIR;
}

void require_vendored_scripts() {
  const fs::path root(vendored_root());
  for (const auto& s : vendored_scripts())
    if (!fs::is_regular_file(root / s.package))
      throw Error("the HTML report's JavaScript is not vendored (" + (root / s.package).string() +
                  " is missing): run `make deps` (npm ci of web/package-lock.json), or point "
                  "WHATIF_WEB_DIR at a node_modules folder holding it");
}

void copy_vendored_scripts(const std::string& folder) {
  require_vendored_scripts();
  const fs::path root(vendored_root());
  fs::create_directories(folder);
  for (const auto& s : vendored_scripts()) {
    const fs::path from = root / s.package, to = fs::path(folder) / s.file;
    std::error_code ec;
    if (fs::is_regular_file(to) && fs::file_size(to) == fs::file_size(from) &&
        fs::last_write_time(to) >= fs::last_write_time(from))
      continue;
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (ec) throw Error(to.string() + ": cannot copy " + from.string() + ": " + ec.message());
  }
}

const std::string& report_script() {
  static const std::string text(web::report_js);
  return text;
}

const std::string& report_style() {
  static const std::string text(web::report_css);
  return text;
}

const std::string& playground_script() {
  static const std::string text(web::playground_js);
  return text;
}

}  // namespace whatif

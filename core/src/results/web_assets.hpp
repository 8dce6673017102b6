#pragma once
// The report page's code. Its own script and style live in web/ and are compiled in; the libraries
// it draws with (Niivue for volumes; Vega, Vega-Lite and Vega-Embed for plots) are vendored from
// npm by `make deps` (`npm ci` of web/package-lock.json into the build tree) and copied next to
// each page, so report.html opens from the file system with no network.
#include <string>
#include <vector>

namespace whatif {

struct VendoredScript {
  std::string file;     // name next to the page, in report_files/
  std::string package;  // path under node_modules
};

// In the order the page loads them (Vega-Lite needs Vega, Vega-Embed both).
const std::vector<VendoredScript>& vendored_scripts();

// Where `npm ci` put node_modules: $WHATIF_WEB_DIR, else the build tree's web/node_modules.
std::string vendored_root();

// Throws Error saying in one line what to run when the vendored scripts are missing.
void require_vendored_scripts();
// Copies the vendored scripts into `folder` (skipping files already copied); require_vendored_scripts first.
void copy_vendored_scripts(const std::string& folder);

// web/report.js, web/report.css and web/playground.js as built into this binary.
const std::string& report_script();
const std::string& report_style();
const std::string& playground_script();

}  // namespace whatif

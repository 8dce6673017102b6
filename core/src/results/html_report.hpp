#pragma once
// `whatif report RUN_DIR --html`: report.html beside report.md. The page shows the summary, the
// metric table (mean ± std over seeds), Vega-Lite plots (each metric against each numeric swept
// parameter, one line per value of the others; the curves) and, for each arm's samples, Niivue
// views of factual | counterfactual | difference. It opens from the file system: the libraries are
// copied to report_files/, the volumes are embedded (and written to volumes/<arm>/ as .nii.gz).
#include <string>

namespace whatif {

// Writes DIR/report.html, DIR/report_files/ and DIR/volumes/; returns the page's path.
std::string write_html_report(const std::string& dir);

}  // namespace whatif

#pragma once
// `whatif report RUN_DIR`: a Markdown and a CSV table (arms × metrics, mean ± std over three or more
// seeds and each seed's value below three, only the parameters that differ), slice montages of the
// stored samples (PNG) and loss curves (SVG).
#include <map>
#include <string>
#include <vector>

#include "results/result_store.hpp"

namespace whatif {

struct ArmGroup {
  std::string arm_json;  // the parameters shared by the group's seeds
  std::vector<const ArmResult*> runs;
  std::map<std::string, std::pair<double, double>> metrics;  // name → (mean, std over seeds)
  std::map<std::string, std::vector<double>> values;          // name → each complete seed's value
};

// Groups arms that differ only in their seed; std is the sample standard deviation (0 for one seed).
// Each group's runs are in seed order; `values` keeps the complete seeds' values in that order.
std::vector<ArmGroup> group_by_arm(const std::vector<ArmResult>& arms);

// Below three seeds a table shows each seed's value (a / b) instead of mean ± std: two values
// make no spread worth the name. The one rule for report.md and the HTML page.
inline bool shows_each_seed(std::size_t seeds) { return seeds < 3; }

// Writes report.md, report.csv, curves-*.svg and samples-*.png into `dir`; returns report.md's path.
std::string write_report(const std::string& dir);

}  // namespace whatif

#pragma once
// `whatif report RUN_DIR` and `whatif verify SCRIPT --against RUN_DIR`.
#include <string>
#include <vector>

namespace whatif {

int command_report(const std::vector<std::string>& args);
int command_verify(const std::vector<std::string>& args);

}  // namespace whatif

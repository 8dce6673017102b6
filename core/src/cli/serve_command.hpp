#pragma once
// `whatif serve RUN_DIR [--port P] [--host H]`.
#include <string>
#include <vector>

namespace whatif {

int command_serve(const std::vector<std::string>& args);

}  // namespace whatif

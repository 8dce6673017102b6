#pragma once
// The process logger: spdlog to the console, plus a log file in the run directory once one exists.
#include <memory>
#include <string>

namespace spdlog {
class logger;
}

namespace whatif {

std::shared_ptr<spdlog::logger> logger();
// Adds `path` as a second sink (appending), creating its folder.
void log_to_file(const std::string& path);
void set_log_level(const std::string& level);  // trace|debug|info|warn|error

}  // namespace whatif

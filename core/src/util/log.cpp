#include "util/log.hpp"

#include <filesystem>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "whatif/registry/error.hpp"
#include "whatif/registry/log.hpp"

namespace whatif {

std::shared_ptr<spdlog::logger> logger() {
  static std::shared_ptr<spdlog::logger> instance = [] {
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    console->set_pattern("%^[%H:%M:%S %l]%$ %v");
    auto log = std::make_shared<spdlog::logger>("whatif", console);
    log->set_level(spdlog::level::info);
    log->flush_on(spdlog::level::info);
    // Plugins warn through the registry; their warnings land in this log.
    set_warning_sink([](const std::string& message) { logger()->warn(message); });
    return log;
  }();
  return instance;
}

void log_to_file(const std::string& path) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, false);
  file->set_pattern("[%Y-%m-%d %H:%M:%S.%e %l] %v");
  logger()->sinks().push_back(file);
}

void set_log_level(const std::string& level) {
  const auto parsed = spdlog::level::from_str(level);
  if (parsed == spdlog::level::off && level != "off")
    throw Error("--log-level " + level + ": expected trace, debug, info, warn or error");
  logger()->set_level(parsed);
}

}  // namespace whatif

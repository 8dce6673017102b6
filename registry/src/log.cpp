#include "whatif/registry/log.hpp"

#include <iostream>
#include <mutex>

namespace whatif {
namespace {

std::mutex& sink_mutex() {
  static std::mutex m;
  return m;
}

WarningSink& sink() {
  static WarningSink s;
  return s;
}

}  // namespace

void set_warning_sink(WarningSink s) {
  std::lock_guard<std::mutex> lock(sink_mutex());
  sink() = std::move(s);
}

void warn(const std::string& message) {
  std::lock_guard<std::mutex> lock(sink_mutex());
  if (sink()) sink()(message);
  else std::cerr << "warning: " << message << "\n";
}

}  // namespace whatif

#pragma once
// Runs an experiment script the way `whatif run` does: host, run directory, log file, script.
#include "host/host.hpp"
#include "lua/script.hpp"

#include <string>
#include <vector>

namespace whatif {

// `loaded_plugins`, when given, receives the names of the plugins the host loaded (before the
// script runs, so also when it fails).
void execute_script(const ScriptArgs& script, const HostConfig& config,
                    std::vector<std::string>* loaded_plugins = nullptr);

}  // namespace whatif

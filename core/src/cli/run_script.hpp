#pragma once
// Runs an experiment script the way `whatif run` does: host, run directory, log file, script.
#include "host/host.hpp"
#include "lua/script.hpp"

namespace whatif {

void execute_script(const ScriptArgs& script, const HostConfig& config);

}  // namespace whatif

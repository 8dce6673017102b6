#pragma once
// Warnings from plugins to the host's log. The host installs a sink (its log: the console and
// RUN_DIR/whatif.log); without one a warning goes to standard error.
#include <functional>
#include <string>

namespace whatif {

using WarningSink = std::function<void(const std::string& message)>;

void set_warning_sink(WarningSink sink);
// One line, e.g. "unet: self-attention at level 1 runs over 4096 tokens ...".
void warn(const std::string& message);

}  // namespace whatif

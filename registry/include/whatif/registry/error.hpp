#pragma once
// The one exception type whatif throws for user-facing errors. Its message is a single line that
// names the file, key or plugin at fault and says what to do next.
#include <stdexcept>
#include <string>

namespace whatif {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
  // Out of line, so the vtable and type_info live in the registry library and never in a plugin
  // that might throw one.
  ~Error() override;
};

}  // namespace whatif

#pragma once
// The one-line message of a whatif::Error thrown by `f`, or "" when it throws none.
#include <string>

#include "whatif/registry/error.hpp"

namespace whatif::test {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace whatif::test

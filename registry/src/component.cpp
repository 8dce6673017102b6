#include "whatif/registry/component.hpp"

#include <utility>

#include "whatif/registry/error.hpp"

namespace whatif {

Error::~Error() = default;

Component::~Component() = default;

void Component::stamp(ComponentIdentity identity, Options hyperparams) {
  identity_ = std::move(identity);
  hyperparams_ = std::move(hyperparams);
}

}  // namespace whatif

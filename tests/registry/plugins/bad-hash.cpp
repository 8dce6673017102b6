// A plugin built against other public headers: its interface hash differs from the host's.
#include <whatif/registry/plugin.hpp>
#include <whatif/registry/registry.hpp>

#undef WHATIF_INTERFACE_HASH
#define WHATIF_INTERFACE_HASH "0123456789abcdef"

namespace {
void register_nothing(whatif::Registry&) {}
}  // namespace

WHATIF_PLUGIN("bad-hash", "0.0.1", register_nothing)

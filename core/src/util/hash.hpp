#pragma once
// FNV-1a (64-bit): a fast, stable fingerprint of bytes, for tagging configs and caches (not for
// security). Incremental: feed several buffers by passing the previous result as `hash`.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace whatif {

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;

inline std::uint64_t fnv1a(const void* data, std::size_t size, std::uint64_t hash = kFnvOffset) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

inline std::uint64_t fnv1a(const std::string& text, std::uint64_t hash = kFnvOffset) {
  return fnv1a(text.data(), text.size(), hash);
}

inline std::string hex(std::uint64_t hash) {
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(hash));
  return out;
}

}  // namespace whatif

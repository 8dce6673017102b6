// keep_freed_memory: blocks far above glibc's default mmap threshold (32 MB) come from the heap
// and go back to it, so an allocate–free cycle neither maps nor page-faults memory anew.
#include <catch2/catch.hpp>

#include <malloc.h>

#include <cstdlib>
#include <cstring>

#include "host/host.hpp"

CATCH_TEST_CASE("after keep_freed_memory a 96 MB block is served by the heap, not by mmap") {
#if defined(__SANITIZE_ADDRESS__)
  CATCH_WARN("skipped under AddressSanitizer: its allocator replaces glibc's, which keep_freed_memory tunes");
  return;
#endif
  whatif::keep_freed_memory();
  constexpr std::size_t kBytes = 96u << 20;
  const auto mapped = [] { return mallinfo2().hblkhd; };  // bytes in mmap-ed blocks
  const std::size_t before = mapped();
  void* block = std::malloc(kBytes);
  CATCH_REQUIRE(block != nullptr);
  std::memset(block, 1, kBytes);
  CATCH_REQUIRE(mapped() == before);
  std::free(block);
  // Freed memory stays with the process: the next block of that size reuses it.
  const std::size_t kept = mallinfo2().fordblks;
  CATCH_REQUIRE(kept >= kBytes);
  void* again = std::malloc(kBytes);
  CATCH_REQUIRE(mapped() == before);
  std::free(again);
}

#pragma once
// RAII switch for mixed precision: bf16 autocast on CPU (AMX / AVX-512 where present) or
// fp16/bf16 on CUDA. LibTorch 1.13 has the per-thread flags but no guard; this restores the
// previous state and clears the cast cache when the outermost guard ends.
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

namespace whatif {

class AutocastGuard {
 public:
  AutocastGuard(bool enabled, c10::DeviceType device = c10::kCPU,
                c10::ScalarType dtype = c10::kBFloat16);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  c10::DeviceType device_;
  bool previous_enabled_;
  c10::ScalarType previous_dtype_;
};

}  // namespace whatif

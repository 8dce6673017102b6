#pragma once
// An exclusive lock on a run directory while a run writes into it (DESIGN.md §11): flock on
// DIR/.whatif.lock, which names the holder's PID and host. The kernel releases the lock when its
// process ends, however it ends, so the lock of a dead run is simply taken over.
#include <string>

namespace whatif {

class RunLock {
 public:
  // Throws Error naming the directory and the holder when another run holds it.
  explicit RunLock(const std::string& run_dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace whatif

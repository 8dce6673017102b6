#pragma once
// A small progress bar for long loops: count, rate, ETA and a free-form status (loss, …).
// On a terminal it redraws one line; otherwise it prints a line every 10 % (or 30 s).
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>

namespace whatif {

// "mm:ss" or "h:mm:ss"; "?" for negative or non-finite input.
std::string format_duration(double seconds);

class Progress {
 public:
  using Clock = std::chrono::steady_clock;

  Progress(std::int64_t total, std::string label);
  Progress(std::int64_t total, std::string label, std::ostream& out, bool terminal);
  ~Progress();

  // Draws nothing until `seconds` have passed (and then nothing at the end either if nothing was
  // drawn): for loops that are usually quick but sometimes long, such as sampling.
  void set_patience(double seconds) { patience_ = seconds; }
  void tick(std::int64_t n = 1, const std::string& status = "");
  void finish();
  std::int64_t done() const { return done_; }
  // The line as it would be drawn now (for tests and logs).
  std::string line(double elapsed_seconds) const;

 private:
  void draw(bool force);

  std::int64_t total_;
  std::int64_t done_ = 0;
  std::string label_;
  std::string status_;
  std::ostream& out_;
  bool terminal_;
  bool finished_ = false;
  bool drawn_ = false;
  double patience_ = 0;
  Clock::time_point start_;
  Clock::time_point last_draw_;
  std::int64_t last_reported_decile_ = -1;
};

}  // namespace whatif

#include "util/progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <iostream>

namespace whatif {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto total = static_cast<long long>(std::llround(seconds));
  char buffer[32];
  if (total >= 3600)
    std::snprintf(buffer, sizeof buffer, "%lld:%02lld:%02lld", total / 3600, total / 60 % 60,
                  total % 60);
  else
    std::snprintf(buffer, sizeof buffer, "%02lld:%02lld", total / 60, total % 60);
  return buffer;
}

Progress::Progress(std::int64_t total, std::string label)
    : Progress(total, std::move(label), std::cerr, isatty(STDERR_FILENO) != 0) {}

Progress::Progress(std::int64_t total, std::string label, std::ostream& out, bool terminal)
    : total_(total), label_(std::move(label)), out_(out), terminal_(terminal),
      start_(Clock::now()), last_draw_(start_) {}

Progress::~Progress() { finish(); }

std::string Progress::line(double elapsed) const {
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  std::string text = label_ + " ";
  if (total_ > 0) {
    const int width = 24;
    const int filled = static_cast<int>(width * std::min<double>(1.0, double(done_) / total_));
    text += "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
  }
  text += std::to_string(done_) + (total_ > 0 ? "/" + std::to_string(total_) : "");
  char numbers[96];
  const double eta = rate > 0 && total_ > 0 ? (total_ - done_) / rate : -1.0;
  std::snprintf(numbers, sizeof numbers, " %.2f/s elapsed %s ETA %s", rate,
                format_duration(elapsed).c_str(), format_duration(eta).c_str());
  text += numbers;
  if (!status_.empty()) text += " " + status_;
  return text;
}

void Progress::tick(std::int64_t n, const std::string& status) {
  done_ += n;
  if (!status.empty()) status_ = status;
  draw(false);
}

void Progress::draw(bool force) {
  const auto now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  if (elapsed < patience_ && !drawn_) return;
  drawn_ = true;
  if (terminal_) {
    if (!force && now - last_draw_ < std::chrono::milliseconds(100) && done_ != total_) return;
    out_ << "\r\033[K" << line(elapsed) << std::flush;
  } else {
    const std::int64_t decile = total_ > 0 ? done_ * 10 / total_ : -1;
    const bool new_decile = decile != last_reported_decile_;
    if (!force && !new_decile && now - last_draw_ < std::chrono::seconds(30)) return;
    last_reported_decile_ = decile;
    out_ << line(elapsed) << "\n" << std::flush;
  }
  last_draw_ = now;
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (patience_ > 0 && !drawn_) return;
  if (terminal_) {
    draw(true);
    out_ << "\n" << std::flush;
  } else if (done_ * 10 / std::max<std::int64_t>(total_, 1) != last_reported_decile_) {
    draw(true);
  }
}

}  // namespace whatif

#include <catch2/catch.hpp>

#include <chrono>
#include <sstream>
#include <thread>

#include "util/progress.hpp"

CATCH_TEST_CASE("durations format as mm:ss or h:mm:ss") {
  CATCH_REQUIRE(whatif::format_duration(0) == "00:00");
  CATCH_REQUIRE(whatif::format_duration(61.4) == "01:01");
  CATCH_REQUIRE(whatif::format_duration(3725) == "1:02:05");
  CATCH_REQUIRE(whatif::format_duration(-1) == "?");
}

CATCH_TEST_CASE("progress line reports count, rate and ETA") {
  std::ostringstream out;
  whatif::Progress progress(100, "train", out, false);
  progress.tick(25, "loss=0.5");
  // 25 of 100 in 10 s: 2.5/s, 75 left → 30 s.
  const std::string line = progress.line(10.0);
  CATCH_REQUIRE(line.find("25/100") != std::string::npos);
  CATCH_REQUIRE(line.find("2.50/s") != std::string::npos);
  CATCH_REQUIRE(line.find("ETA 00:30") != std::string::npos);
  CATCH_REQUIRE(line.find("loss=0.5") != std::string::npos);
  progress.finish();
  // Off a terminal it prints whole lines, one per decile reached.
  CATCH_REQUIRE(out.str().find("train [######") != std::string::npos);
  CATCH_REQUIRE(out.str().find('\r') == std::string::npos);
}

CATCH_TEST_CASE("a patient progress bar stays silent for quick loops and speaks for slow ones") {
  std::ostringstream quick;
  {
    whatif::Progress progress(10, "sampling", quick, false);
    progress.set_patience(60.0);
    for (int i = 0; i < 10; ++i) progress.tick();
  }
  CATCH_REQUIRE(quick.str().empty());

  std::ostringstream slow;
  {
    whatif::Progress progress(4, "sampling", slow, false);
    progress.set_patience(0.05);
    progress.tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(80));
    progress.tick();
    progress.tick();
    progress.tick();
  }
  // Silent for the first step, then a line per decile from the second on, ending at 4/4.
  CATCH_REQUIRE(slow.str().find("1/4") == std::string::npos);
  CATCH_REQUIRE(slow.str().find("2/4") != std::string::npos);
  CATCH_REQUIRE(slow.str().find("4/4") != std::string::npos);
}

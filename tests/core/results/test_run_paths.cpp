// The path rule for scripts against a scratch tree: inside the run directory is allowed, relative
// paths start there, and '..', absolute paths elsewhere and symlinks that lead out are refused.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "results/run_paths.hpp"
#include "whatif/registry/error.hpp"

namespace fs = std::filesystem;

CATCH_TEST_CASE("confined_path: inside the run directory only, after symlinks; reads from the allow-list") {
  const fs::path root = fs::temp_directory_path() / ("whatif-paths-" + std::to_string(::getpid()));
  const fs::path run = root / "run", scripts = root / "scripts", outside = root / "outside";
  fs::create_directories(run / "arm");
  fs::create_directories(scripts);
  fs::create_directories(outside);
  fs::create_directory_symlink(outside, run / "link");

  CATCH_REQUIRE(whatif::confined_path(run.string(), "model.h5") == (run / "model.h5").string());
  CATCH_REQUIRE(whatif::confined_path(run.string(), "arm/../arm/ck.h5") == (run / "arm/ck.h5").string());
  CATCH_REQUIRE(whatif::confined_path(run.string(), (run / "arm/ck.h5").string()) == (run / "arm/ck.h5").string());
  const auto refused = [&](const std::string& path, const std::vector<std::string>& reads = {}) {
    try {
      whatif::confined_path(run.string(), path, reads);
    } catch (const whatif::Error& e) {
      return std::string(e.what()).find("outside the run directory") != std::string::npos;
    }
    return false;
  };
  CATCH_REQUIRE(refused("../escape.h5"));
  CATCH_REQUIRE(refused("arm/../../escape.h5"));
  CATCH_REQUIRE(refused((outside / "x.h5").string()));
  CATCH_REQUIRE(refused("/etc/passwd"));
  CATCH_REQUIRE(refused("link/x.h5"));  // a symlink inside that leads out
  CATCH_REQUIRE(refused((root / "runner/x.h5").string()));  // a sibling sharing the name's prefix
  // Reads may also come from the read-only roots, and only from them.
  CATCH_REQUIRE(whatif::confined_path(run.string(), (scripts / "m.h5").string(), {scripts.string()}) ==
                (scripts / "m.h5").string());
  CATCH_REQUIRE(refused((outside / "m.h5").string(), {scripts.string()}));
  CATCH_REQUIRE_THROWS(whatif::confined_path(run.string(), ""));
  fs::remove_all(root);
}

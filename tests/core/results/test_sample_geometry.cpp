// A sample's grid and ground truth through the result file: what ctx:sample records comes back
// exactly, and a damaged grid record is refused naming the file, not read as 1 mm.
#include <catch2/catch.hpp>

#include <filesystem>

#include <ATen/ATen.h>
#include <unistd.h>

#include "results/geometry_json.hpp"
#include "results/result_store.hpp"
#include "train/checkpoint.hpp"
#include "whatif/registry/error.hpp"

namespace fs = std::filesystem;
using whatif::data::Geometry;

namespace {

whatif::ArmResult arm_with_sample() {
  whatif::ArmResult arm;
  arm.id = "geo-seed1";
  arm.status = "complete";
  arm.samples.emplace_back("high", at::arange(24, at::kFloat).reshape({2, 3, 4}));
  arm.sample_notes["high"] = "prompt: high lesion load";
  arm.sample_truths["high"] = "real twins differ by 4.05 ml";
  // An oblique, anisotropic grid: every field must survive, not only the spacing.
  arm.sample_geometry["high"] = Geometry{{0.9, 1.25, 3.0}, {-90.5, 126.0, -72.25}, {0, -1, 0, 1, 0, 0, 0, 0, 1}};
  return arm;
}

}  // namespace

CATCH_TEST_CASE("sample grid and truth round-trip through the result file") {
  const fs::path dir = fs::temp_directory_path() / ("whatif-geo-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const whatif::ArmResult written = arm_with_sample();
  whatif::write_arm(dir.string(), written);
  const whatif::ArmResult read = whatif::read_arm((dir / "geo-seed1.h5").string(), true);
  CATCH_REQUIRE(read.sample_truths == written.sample_truths);
  CATCH_REQUIRE(read.sample_notes == written.sample_notes);
  CATCH_REQUIRE(read.sample_geometry.size() == 1);
  const Geometry& g = read.sample_geometry.at("high");
  const Geometry& w = written.sample_geometry.at("high");
  CATCH_CHECK(g.spacing == w.spacing);
  CATCH_CHECK(g.origin == w.origin);
  CATCH_CHECK(g.direction == w.direction);

  // Without samples asked for, nothing of them is read.
  CATCH_CHECK(whatif::read_arm((dir / "geo-seed1.h5").string(), false).sample_geometry.empty());

  // A record that is not a JSON object is an error naming the file.
  whatif::Checkpoint c = whatif::read_checkpoint((dir / "geo-seed1.h5").string());
  c.strings["sample_geometry"] = "[1, 2";
  whatif::write_checkpoint((dir / "broken.h5").string(), c);
  CATCH_REQUIRE_THROWS_WITH(whatif::read_arm((dir / "broken.h5").string(), true),
                            Catch::Contains("broken.h5") && Catch::Contains("sample_geometry"));
  fs::remove_all(dir);
}

CATCH_TEST_CASE("geometry_from_json refuses what cannot place a grid") {
  const auto refuse = [](const char* text, const char* reason) {
    CATCH_CHECK_THROWS_WITH(whatif::geometry_from_json(nlohmann::json::parse(text), "f.h5"),
                            Catch::StartsWith("f.h5: ") && Catch::Contains(reason));
  };
  refuse(R"({"origin": [0, 0, 0]})", "'spacing' must be a list of 3 numbers");
  refuse(R"({"spacing": [1, 1]})", "'spacing' must be a list of 3 numbers");
  refuse(R"({"spacing": [1, -2, 1]})", "spacing must be positive");
  refuse(R"({"spacing": [1, "a", 1]})", "not a finite number");
  refuse(R"({"spacing": [1, 1, 1], "direction": [1, 0, 0, 0, 1, 0, 0, 0]})", "'direction' must be a list of 9");
  refuse(R"({"spacing": [1, 1, 1], "direction": [1, 0, 0, 1, 0, 0, 0, 0, 1]})", "singular");
  refuse(R"([1, 1, 1])", "geometry must be");
  // Origin and direction are optional: an isotropic grid at the origin.
  const Geometry g = whatif::geometry_from_json(nlohmann::json::parse(R"({"spacing": [2, 2, 2]})"), "f.h5");
  CATCH_CHECK(g.origin == std::array<double, 3>{0, 0, 0});
  CATCH_CHECK(g.direction == std::array<double, 9>{1, 0, 0, 0, 1, 0, 0, 0, 1});
  // What geometry_json writes, geometry_from_json reads back.
  const Geometry oblique{{0.5, 0.5, 2}, {1, 2, 3}, {0, 0, 1, 0, 1, 0, -1, 0, 0}};
  const Geometry back = whatif::geometry_from_json(whatif::geometry_json(oblique), "f.h5");
  CATCH_CHECK(back.direction == oblique.direction);
  CATCH_CHECK(back.origin == oblique.origin);
}

// A model family added the way docs/plugins.md shows it: the example there is extracted at
// configure time and compiled into this test as it stands. It is registered in one line and then
// built, fitted, sampled, paired, saved and loaded from a script like any model.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "host/host.hpp"
#include "lua/script.hpp"
#include "whatif/model_family.hpp"

void register_mean_family();  // docs/plugins.md

namespace fs = std::filesystem;

namespace {

std::string run_script(const std::string& code) {
  const fs::path dir = fs::temp_directory_path() / ("whatif-family-" + std::to_string(::getpid()));
  fs::create_directories(dir / "run");
  std::ofstream(dir / "family.lua") << code;
  whatif::ScriptArgs args;
  args.path = (dir / "family.lua").string();
  args.run_dir = (dir / "run").string();
  static whatif::Host host(whatif::HostConfig{1, "cpu", {}});
  std::string error;
  try {
    whatif::Script script(host, args);
    script.run();
  } catch (const whatif::Error& e) {
    error = e.what();
  }
  fs::remove_all(dir);
  return error;
}

}  // namespace

CATCH_TEST_CASE("the docs' model family: one registration line, then the whole Model API from Lua") {
  register_mean_family();
  CATCH_REQUIRE_THROWS_WITH(register_mean_family(), Catch::Contains("registered twice"));
  // The generated volume is the data's voxel-wise mean, so its overall mean is the data's.
  CATCH_REQUIRE(run_script(R"(
    local data = whatif.dataset("synthetic-brain", {subjects = 2, size = 32})
    local m = whatif.mean{}
    m:fit(data, {steps = 1})
    local x = m:generate{count = 2, seed = 3}
    assert(x:shape()[1] == 2 and x:shape()[3] == 32, "two volumes of the data's shape")
    local all = data:images(1, data:size())
    assert(math.abs(x:mean() - all:mean()) < 1e-5, "the mean of the generated mean image")
    local a, b = m:counterfactual{prompts = {"minimal lesion load", "high lesion load"}}
    assert((a - b):abs():max() == 0, "the mean model changes nothing")
    m:save("mean.pt")
    local again = whatif.model("mean", {})
    again:load("mean.pt")
    assert((again:generate{count = 1}:select(1) - x:select(1)):abs():max() == 0, "saved and loaded")
  )") == "");
  // Options the family does not read are refused by name, like any other.
  CATCH_REQUIRE_THAT(run_script("local m = whatif.mean{}\nm:generate{count = 1, steps = 5}\n"),
                     Catch::Contains("unknown option 'steps'"));
  CATCH_REQUIRE_THAT(run_script("whatif.model('meen', {})\n"), Catch::Contains("did you mean 'mean'"));
}

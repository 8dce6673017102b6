#include <catch2/catch.hpp>

#include "support/error_of.hpp"
#include "lua/params.hpp"
#include "whatif/registry/error.hpp"

using whatif::ParamDecl;
using whatif::Value;

using whatif::test::error_of;

namespace {

ParamDecl decl() {
  ParamDecl d;
  d.defaults = {{"steps", Value(std::int64_t{2000})},
                {"lr", Value(1e-3)},
                {"schedule", Value(std::string("cosine"))},
                {"ema", Value(true)}};
  d.presets["smoke"] = {{"steps", Value(std::int64_t{5})}};
  d.presets["small"] = {{"steps", Value(std::int64_t{500})}, {"lr", Value(std::int64_t{1})}};
  return d;
}


}  // namespace

CATCH_TEST_CASE("defaults, then the preset, then --set") {
  auto p = whatif::resolve_params(decl(), "", {});
  CATCH_REQUIRE(std::get<std::int64_t>(p["steps"]) == 2000);
  p = whatif::resolve_params(decl(), "smoke", {});
  CATCH_REQUIRE(std::get<std::int64_t>(p["steps"]) == 5);
  p = whatif::resolve_params(decl(), "smoke", {"steps=7", "lr=0.5", "ema=false", "schedule=edm"});
  CATCH_REQUIRE(std::get<std::int64_t>(p["steps"]) == 7);
  CATCH_REQUIRE(std::get<double>(p["lr"]) == 0.5);
  CATCH_REQUIRE(std::get<bool>(p["ema"]) == false);
  CATCH_REQUIRE(std::get<std::string>(p["schedule"]) == "edm");
  // A preset's integer for a number parameter is coerced to the declared type.
  p = whatif::resolve_params(decl(), "small", {});
  CATCH_REQUIRE(std::get<double>(p["lr"]) == 1.0);
}

CATCH_TEST_CASE("--set is typed by the default and refuses unknown names") {
  CATCH_REQUIRE(error_of([] { whatif::resolve_params(decl(), "", {"stepz=3"}); }) ==
                "--set stepz=3: unknown parameter 'stepz' (did you mean 'steps'?)");
  CATCH_REQUIRE(error_of([] { whatif::resolve_params(decl(), "", {"steps=2.5"}); }) ==
                "--set steps=2.5: expected an integer, got '2.5'");
  CATCH_REQUIRE(error_of([] { whatif::resolve_params(decl(), "", {"steps"}); }) ==
                "--set steps: expected key=value");
}

CATCH_TEST_CASE("unknown presets list the declared ones") {
  CATCH_REQUIRE(error_of([] { whatif::resolve_params(decl(), "smok", {}); }) ==
                "--preset smok: unknown preset (did you mean 'smoke'?) (presets: small smoke)");
  ParamDecl bad = decl();
  bad.presets["paper"] = {{"stepps", Value(std::int64_t{1})}};
  CATCH_REQUIRE(error_of([&] { whatif::resolve_params(bad, "paper", {}); }) ==
                "preset paper: unknown parameter 'stepps' (did you mean 'steps'?)");
}

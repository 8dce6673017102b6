#include <catch2/catch.hpp>

#include "support/error_of.hpp"
#include "whatif/registry/error.hpp"
#include "whatif/registry/options.hpp"
#include "whatif/registry/suggest.hpp"

using whatif::Error;
using whatif::OptionType;
using whatif::Options;
using whatif::Schema;
using whatif::Value;

using whatif::test::error_of;

namespace {

const Schema kSchema{
    {"channels", OptionType::IntList, std::vector<std::int64_t>{32, 64}, "widths"},
    {"dropout", OptionType::Double, 0.0, "probability"},
    {"steps", OptionType::Int, std::int64_t{10}, "count"},
    {"name", OptionType::String, std::string("unet"), "label"},
    {"attention", OptionType::Bool, false, "flag"},
};


}  // namespace

CATCH_TEST_CASE("edit distance and suggestions") {
  CATCH_REQUIRE(whatif::edit_distance("kitten", "sitting") == 3);
  CATCH_REQUIRE(whatif::edit_distance("", "abc") == 3);
  CATCH_REQUIRE(whatif::closest_name("dropot", {"dropout", "steps"}) == "dropout");
  CATCH_REQUIRE(whatif::closest_name("xyz", {"dropout", "steps"}).empty());
}

CATCH_TEST_CASE("resolve fills defaults and coerces ints to numbers") {
  Options given;
  given.set("dropout", std::int64_t{1});
  const Options resolved = given.resolve(kSchema, "denoiser/unet");
  CATCH_REQUIRE(resolved.get_double("dropout") == 1.0);
  CATCH_REQUIRE(resolved.get_int("steps") == 10);
  CATCH_REQUIRE(resolved.get_ints("channels") == std::vector<std::int64_t>{32, 64});
  CATCH_REQUIRE(resolved.get_string("name") == "unet");
  CATCH_REQUIRE(resolved.unused_explicit_keys() == std::vector<std::string>{});
}

CATCH_TEST_CASE("an unknown key names the closest valid key") {
  Options given;
  given.set("dropuot", 0.1);
  CATCH_REQUIRE(error_of([&] { given.resolve(kSchema, "denoiser/unet"); }) ==
                "denoiser/unet: unknown option 'dropuot' (did you mean 'dropout'?)");
  Options far;
  far.set("qqqqqqqq", 1.0);
  CATCH_REQUIRE(error_of([&] { far.resolve(kSchema, "denoiser/unet"); })
                    .find("(valid: channels dropout steps name attention)") != std::string::npos);
}

CATCH_TEST_CASE("types are checked against the schema") {
  Options fraction;
  fraction.set("steps", 2.5);
  CATCH_REQUIRE(error_of([&] { fraction.resolve(kSchema, "x"); }) ==
                "x: option 'steps': expected int, got number 2.5");
  Options text;
  text.set("attention", std::string("yes please"));
  CATCH_REQUIRE(error_of([&] { text.resolve(kSchema, "x"); }).find("expected bool") !=
                std::string::npos);
  Options whole;
  whole.set("steps", 3.0);  // a whole number written as a float is still an int
  CATCH_REQUIRE(whole.resolve(kSchema, "x").get_int("steps") == 3);
}

CATCH_TEST_CASE("key=value strings are typed by the schema") {
  const Options given = Options::from_strings(
      {"channels=16,32,64", "dropout=0.25", "steps=7", "name=uvit", "attention=true"});
  const Options resolved = given.resolve(kSchema, "x");
  CATCH_REQUIRE(resolved.get_ints("channels") == std::vector<std::int64_t>{16, 32, 64});
  CATCH_REQUIRE(resolved.get_double("dropout") == 0.25);
  CATCH_REQUIRE(resolved.get_int("steps") == 7);
  CATCH_REQUIRE(resolved.get_string("name") == "uvit");
  CATCH_REQUIRE(resolved.get_bool("attention"));
  CATCH_REQUIRE(error_of([] { Options::from_strings({"novalue"}); }).find("key=value") !=
                std::string::npos);
  CATCH_REQUIRE(error_of([] { Options::from_strings({"steps=ten"}).resolve(kSchema, "x"); }) ==
                "x: option 'steps': expected an integer, got 'ten'");
}

CATCH_TEST_CASE("reading marks keys used; explicit keys never read are reported") {
  Options given;
  given.set("steps", std::int64_t{5});
  given.set("dropout", 0.5);
  const Options resolved = given.resolve(kSchema, "x");
  (void)resolved.get_int("steps");
  CATCH_REQUIRE(resolved.unused_explicit_keys() == std::vector<std::string>{"dropout"});
  (void)resolved.get_double("dropout");
  CATCH_REQUIRE(resolved.unused_explicit_keys().empty());
}

CATCH_TEST_CASE("values print as JSON and as text") {
  CATCH_REQUIRE(whatif::to_json(Value(std::vector<std::int64_t>{1, 2})) == "[1,2]");
  CATCH_REQUIRE(whatif::to_string(Value(std::vector<std::int64_t>{1, 2})) == "{1, 2}");
  CATCH_REQUIRE(whatif::to_string(Value(0.5)) == "0.5");
  CATCH_REQUIRE(whatif::to_string(Value(std::string("a"))) == "\"a\"");
  CATCH_REQUIRE(whatif::to_string(Value(true)) == "true");
}

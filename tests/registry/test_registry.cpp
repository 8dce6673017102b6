#include <catch2/catch.hpp>

#include <string>

#include "support/error_of.hpp"
#include "whatif/registry/error.hpp"
#include "whatif/registry/plugin.hpp"
#include "whatif/registry/registry.hpp"

using whatif::Error;
using whatif::FactoryEntry;
using whatif::OptionType;
using whatif::Options;
using whatif::Registry;

using whatif::test::error_of;

namespace {

const std::string kTemplate = std::string(WHATIF_PLUGIN_DIR) + "/libwhatif-plugin-template.so";

std::string plugin(const std::string& name) {
  return std::string(WHATIF_TEST_PLUGIN_DIR) + "/libwhatif-plugin-" + name + ".so";
}


bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

FactoryEntry entry(const std::string& kind, const std::string& name, whatif::Schema schema = {}) {
  return FactoryEntry{kind, name, "test", std::move(schema),
                      [](const Options&) { return std::make_shared<whatif::Component>(); },
                      {}, {}, {}};
}

}  // namespace

CATCH_TEST_CASE("a host-side duplicate is refused, naming both registrants") {
  Registry registry;
  registry.add(entry("metric", "psnr"));
  const std::string message = error_of([&] { registry.add(entry("metric", "psnr")); });
  CATCH_REQUIRE(contains(message, "duplicate component metric/psnr"));
  CATCH_REQUIRE(contains(message, "registered by 'builtin' and again by 'builtin'"));
}

CATCH_TEST_CASE("a duplicate from a plugin names both libraries") {
  Registry registry;
  registry.load(kTemplate);
  const std::string message = error_of([&] { registry.load(plugin("duplicate")); });
  CATCH_REQUIRE(contains(message, "duplicate component schedule/constant-snr"));
  CATCH_REQUIRE(contains(message, "libwhatif-plugin-template.so"));
  CATCH_REQUIRE(contains(message, "libwhatif-plugin-duplicate.so"));
  CATCH_REQUIRE(registry.plugins().size() == 1);
}

CATCH_TEST_CASE("unknown names and kinds get the closest valid one") {
  Registry registry;
  registry.load(kTemplate);
  CATCH_REQUIRE(contains(error_of([&] { registry.find("schedule", "constant-snrr"); }),
                         "unknown schedule 'constant-snrr' (did you mean 'constant-snr'?)"));
  CATCH_REQUIRE(contains(error_of([&] { registry.find("schedul", "constant-snr"); }),
                         "unknown kind 'schedul' (did you mean 'schedule'?)"));
  CATCH_REQUIRE(contains(error_of([&] { registry.find("schedule", "zzzzzzzzzzzz"); }),
                         "(available: constant-snr)"));
  CATCH_REQUIRE(contains(error_of([&] { registry.add(entry("sheduler", "x")); }),
                         "under unknown kind 'sheduler' (did you mean 'schedule'?)"));
}

CATCH_TEST_CASE("a plugin with another ABI version is refused in one line naming both") {
  Registry registry;
  const std::string message = error_of([&] { registry.load(plugin("bad-abi")); });
  CATCH_REQUIRE(contains(message, "ABI version 999"));
  CATCH_REQUIRE(contains(message, "ABI version " + std::to_string(whatif::kAbiVersion)));
  CATCH_REQUIRE(!contains(message, "\n"));
  CATCH_REQUIRE(registry.plugins().empty());
}

CATCH_TEST_CASE("a plugin built against other headers is refused in one line naming both hashes") {
  Registry registry;
  const std::string message = error_of([&] { registry.load(plugin("bad-hash")); });
  CATCH_REQUIRE(contains(message, "interface hash 0123456789abcdef"));
  CATCH_REQUIRE(contains(message, std::string("interface hash ") + WHATIF_INTERFACE_HASH));
  CATCH_REQUIRE(!contains(message, "\n"));
  CATCH_REQUIRE(std::string(WHATIF_INTERFACE_HASH).size() == 16);
}

CATCH_TEST_CASE("a library without the whatif entry is refused") {
  Registry registry;
  CATCH_REQUIRE(contains(error_of([&] { registry.load(plugin("not-a-plugin")); }),
                         "not a whatif plugin"));
  CATCH_REQUIRE(contains(error_of([&] { registry.load("/nonexistent/libwhatif-plugin-x.so"); }),
                         "no such file"));
}

CATCH_TEST_CASE("an exception from a plugin factory becomes an error naming the plugin") {
  Registry registry;
  registry.load(plugin("throwing"));
  const std::string message = error_of([&] { registry.create("metric", "throws", {}); });
  CATCH_REQUIRE(contains(message, "metric/throws from plugin 'throwing'"));
  CATCH_REQUIRE(contains(message, "libwhatif-plugin-throwing.so"));
  CATCH_REQUIRE(contains(message, "boom"));
}

CATCH_TEST_CASE("a plugin whose registration fails leaves nothing registered") {
  Registry registry;
  const std::string message = error_of([&] { registry.load(plugin("register-throws")); });
  CATCH_REQUIRE(contains(message, "registration failed: cannot find my model file"));
  CATCH_REQUIRE(!registry.contains("metric", "half-registered"));
  CATCH_REQUIRE(registry.plugins().empty());
}

CATCH_TEST_CASE("create resolves options, stamps identity and hyperparameters") {
  Registry registry;
  registry.load(kTemplate);
  Options options;
  options.set("snr", std::int64_t{4});
  const auto schedule = registry.create("schedule", "constant-snr", options);
  CATCH_REQUIRE(schedule->identity().plugin == "template");
  CATCH_REQUIRE(schedule->identity().version == "0.1.0");
  CATCH_REQUIRE(contains(schedule->identity().library, "libwhatif-plugin-template.so"));
  CATCH_REQUIRE(schedule->hyperparams().to_json() == R"({"snr":4.0})");
  const auto defaulted = registry.create("schedule", "constant-snr", {});
  CATCH_REQUIRE(defaulted->hyperparams().to_json() == R"({"snr":1.0})");
  // Loading the same library twice is a no-op, not a duplicate.
  registry.load(kTemplate);
  CATCH_REQUIRE(registry.plugins().size() == 1);
}

CATCH_TEST_CASE("an option the factory never reads is reported as a plugin bug") {
  Registry registry;
  registry.add(entry("metric", "lazy", {{"window", OptionType::Int, std::int64_t{7}, "ignored"}}));
  CATCH_REQUIRE_NOTHROW(registry.create("metric", "lazy", {}));  // defaults need not be read
  Options options;
  options.set("window", std::int64_t{3});
  CATCH_REQUIRE(contains(error_of([&] { registry.create("metric", "lazy", options); }),
                         "never read option 'window'"));
}

CATCH_TEST_CASE("a schema whose default has the wrong type is refused at registration") {
  Registry registry;
  const std::string message = error_of([&] {
    registry.add(entry("metric", "m", {{"k", OptionType::Int, std::string("x"), "bad default"}}));
  });
  CATCH_REQUIRE(contains(message, "default of option 'k'"));
}

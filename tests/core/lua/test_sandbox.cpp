#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "host/host.hpp"
#include "lua/script.hpp"

namespace fs = std::filesystem;

namespace {

// A scratch folder with an experiment folder and a sibling folder the sandbox must not reach.
struct Scratch {
  fs::path root;
  Scratch() {
    root = fs::temp_directory_path() / ("whatif-lua-" + std::to_string(::getpid()));
    fs::create_directories(root / "exp");
    fs::create_directories(root / "elsewhere");
  }
  ~Scratch() { fs::remove_all(root); }
  std::string write(const std::string& relative, const std::string& text) const {
    const fs::path path = root / relative;
    std::ofstream(path) << text;
    return path.string();
  }
};

whatif::Host& host() {
  static whatif::Host instance(whatif::HostConfig{1, "cpu", {}});
  return instance;
}

// Runs `code` as exp/<name>; returns "" on success or the error's one-line message.
std::string run(const Scratch& scratch, const std::string& code, whatif::ScriptArgs args = {},
                const std::string& name = "script.lua") {
  args.path = scratch.write("exp/" + name, code);
  try {
    whatif::Script script(host(), args);
    script.run();
  } catch (const whatif::Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

CATCH_TEST_CASE("the sandbox refuses os, io and debug with a clear error") {
  Scratch s;
  const std::string os = run(s, "local x = 1\nos.execute('touch /tmp/whatif-pwned')\n");
  CATCH_REQUIRE(contains(os, "script.lua:2: os.execute is not available in whatif scripts"));
  CATCH_REQUIRE(!fs::exists("/tmp/whatif-pwned"));
  CATCH_REQUIRE(contains(run(s, "io.popen('ls')"), "script.lua:1: io.popen is not available"));
  CATCH_REQUIRE(contains(run(s, "debug.getinfo(1)"), "debug.getinfo is not available"));
  CATCH_REQUIRE(contains(run(s, "dofile('/etc/passwd')"), "dofile is disabled"));
  CATCH_REQUIRE(contains(run(s, "loadfile('/etc/passwd')"), "loadfile is disabled"));
  CATCH_REQUIRE(contains(run(s, "string.dump(print)"), "attempt to call a nil value (field 'dump')"));
}

CATCH_TEST_CASE("load takes text but never bytecode") {
  Scratch s;
  CATCH_REQUIRE(run(s, "assert(load('return 1 + 1')() == 2)") == "");
  CATCH_REQUIRE(contains(run(s, "load(string.char(27) .. 'LuaT\\0')"),
                         "script.lua:1: load: loading bytecode is disabled"));
  CATCH_REQUIRE(contains(run(s, "load('return 1', 'x', 'b')"), "asks for bytecode"));
  // A script file that is bytecode is refused before it runs.
  s.write("exp/compiled.lua", std::string("\x1bLuaT\0\x19\x93\r\n", 10));
  whatif::ScriptArgs args;
  args.path = (s.root / "exp/compiled.lua").string();
  CATCH_REQUIRE_THROWS_WITH(whatif::Script(host(), args).run(),
                            Catch::Contains("whatif loads scripts as text only"));
}

CATCH_TEST_CASE("require reaches only scripts/ and the experiment's folder") {
  Scratch s;
  s.write("exp/helper.lua", "return { answer = 42 }\n");
  s.write("elsewhere/secret.lua", "return 'secret'\n");
  CATCH_REQUIRE(run(s, "assert(require('helper').answer == 42)\n"
                       "assert(require('whatif') == whatif)\n") == "");
  CATCH_REQUIRE(contains(run(s, "require('../elsewhere/secret')"),
                         "script.lua:1: require '../elsewhere/secret': module names are dotted words"));
  CATCH_REQUIRE(contains(run(s, "require('secret')"), "require 'secret': not found"));
  CATCH_REQUIRE(contains(run(s, "require('/etc/passwd')"), "module names are dotted words"));
}

CATCH_TEST_CASE("a script error reports file:line and a traceback") {
  Scratch s;
  whatif::ScriptArgs args;
  args.path = s.write("exp/bad.lua", "local function f()\n  error('broken on purpose')\nend\nf()\n");
  try {
    whatif::Script(host(), args).run();
    CATCH_FAIL("the script should have failed");
  } catch (const whatif::ScriptError& e) {
    CATCH_REQUIRE(contains(e.what(), "bad.lua:2: broken on purpose"));
    CATCH_REQUIRE(contains(e.traceback(), "stack traceback"));
    CATCH_REQUIRE(contains(e.traceback(), "bad.lua:4"));
  }
  CATCH_REQUIRE(contains(run(s, "x = = 1"), "script.lua:1:"));
}

CATCH_TEST_CASE("registry constructors work from Lua and name a misspelled key with its line") {
  Scratch s;
  CATCH_REQUIRE(run(s, "local sch = whatif.schedule('constant-snr', {snr = 4})\n"
                       "assert(sch:kind() == 'schedule' and sch:name() == 'constant-snr')\n"
                       "assert(sch:hyperparams().snr == 4.0)\n"
                       "assert(math.abs(sch:logsnr(0.3) - math.log(4)) < 1e-12)\n"
                       "local a, s = sch:alpha_sigma(0.5)\n"
                       "assert(math.abs(a * a - 0.8) < 1e-12 and math.abs(a*a + s*s - 1) < 1e-12)\n") ==
                "");
  const std::string typo = run(s, "-- a comment\nlocal sch = whatif.schedule('constant-snr', {snrr = 2})\n");
  CATCH_REQUIRE(contains(typo, "script.lua:2: schedule/constant-snr: unknown option 'snrr' "
                               "(did you mean 'snr'?)"));
  CATCH_REQUIRE(contains(run(s, "whatif.schedule('constant-snrr')"),
                         "script.lua:1: unknown schedule 'constant-snrr' (did you mean 'constant-snr'?)"));
  CATCH_REQUIRE(contains(run(s, "whatif.schedule('constant-snr', {snr = 'high'})"),
                         "expected number, got string"));
}

CATCH_TEST_CASE("whatif.params resolves defaults, presets and --set") {
  Scratch s;
  const std::string script =
      "local p = whatif.params{steps = 100, lr = 0.001, arm = 'pixel',\n"
      "                        presets = {smoke = {steps = 3}}}\n"
      "assert(p.steps == EXPECTED_STEPS, 'steps = ' .. p.steps)\n"
      "assert(math.type(p.steps) == 'integer')\n";
  whatif::ScriptArgs args;
  CATCH_REQUIRE(run(s, "EXPECTED_STEPS = 100\n" + script, args) == "");
  args.preset = "smoke";
  CATCH_REQUIRE(run(s, "EXPECTED_STEPS = 3\n" + script, args) == "");
  args.sets = {"steps=7"};
  CATCH_REQUIRE(run(s, "EXPECTED_STEPS = 7\n" + script, args) == "");
  args.sets = {"setps=7"};
  CATCH_REQUIRE(contains(run(s, "EXPECTED_STEPS = 7\n" + script, args),
                         "script.lua:2: --set setps=7: unknown parameter 'setps' (did you mean 'steps'?)"));
  whatif::ScriptArgs no_params;
  no_params.sets = {"steps=1"};
  CATCH_REQUIRE(contains(run(s, "local x = 1\n", no_params), "declares no parameters"));
}

CATCH_TEST_CASE("--dry-run stops after the parameters are resolved") {
  Scratch s;
  whatif::ScriptArgs args;
  args.dry_run = true;
  args.path = s.write("exp/dry.lua", "local p = whatif.params{steps = 5}\nerror('must not run')\n");
  whatif::Script script(host(), args);
  CATCH_REQUIRE_NOTHROW(script.run());
  CATCH_REQUIRE(script.stopped_by_dry_run());
  CATCH_REQUIRE(script.resolved_params_json() == R"({"steps":5})");
}

CATCH_TEST_CASE("an arm's ctx kept past its run is refused, not used after it is freed") {
  Scratch scratch;
  whatif::ScriptArgs args;
  args.run_dir = (scratch.root / "run").string();
  const std::string error = run(scratch, R"(
    local kept
    whatif.experiment{name = "keep", run = function(arm, ctx) kept = ctx; return {x = 1} end}
    kept:log("after the run")
  )", args);
  CATCH_REQUIRE(contains(error, "ctx of arm 'keep-seed0' is used after its run ended"));
}

CATCH_TEST_CASE("a script saves and checkpoints only inside its run directory") {
  Scratch scratch;
  whatif::ScriptArgs args;
  args.run_dir = (scratch.root / "run").string();
  const std::string model = R"(
    local m = whatif.diffusion{encoder = whatif.encoder("identity"),
      denoiser = whatif.denoiser("unet", {spatial_dims = 2, channels = {8}, attention_levels = {}}),
      schedule = whatif.schedule("cosine"), sampler = whatif.sampler("ddim")}
  )";
  CATCH_REQUIRE(contains(run(scratch, model + "m:save('../elsewhere/model.h5')", args), "outside the run directory"));
  CATCH_REQUIRE(contains(run(scratch, model + "m:save('" + (scratch.root / "elsewhere/m.h5").string() + "')", args),
                         "outside the run directory"));
  CATCH_REQUIRE(contains(run(scratch, "whatif.run_dir = '/tmp'\n" + model + "m:save('/tmp/model.h5')", args),
                         "outside the run directory"));
  CATCH_REQUIRE(run(scratch, model + "m:save('model.h5')", args) == "");
  CATCH_REQUIRE(fs::exists(scratch.root / "run/model.h5"));
  CATCH_REQUIRE(!fs::exists(scratch.root / "elsewhere/model.h5"));
}

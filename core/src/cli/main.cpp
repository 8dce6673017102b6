// The `whatif` executable: run experiment scripts, inspect plugins, describe the machine.
// Exit codes: 0 success, 1 a failed run or bad input, 2 a usage error.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include <boost/program_options.hpp>
#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>

#include "cli/data_command.hpp"
#include "cli/launch.hpp"
#include "cli/parse.hpp"
#include "cli/results_command.hpp"
#include "cli/run_script.hpp"
#include "cli/serve_command.hpp"
#include "cli/submit.hpp"
#include "host/environment.hpp"
#include "host/host.hpp"
#include "lua/script.hpp"
#include "model/requests.hpp"
#include "whatif/model_family.hpp"
#include "whatif/registry/registry.hpp"
#include "whatif/registry/suggest.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace whatif {
namespace {

const char* kUsage =
    "usage: whatif <command> [options]\n"
    "\n"
    "commands:\n"
    "  run SCRIPT        run an experiment script (whatif run --help)\n"
    "  plugins list      list registered components: kind, name, version, library\n"
    "  plugins info K/N  show a component's doc and options, e.g. schedule/constant-snr\n"
    "  version           whatif, LibTorch, BLAS, CPU and bf16 facts of this machine\n"
    "  data ACTION       make, inspect and export dataset stores (whatif data --help)\n"
    "  report RUN_DIR    Markdown + CSV tables, curves and sample montages of a run (--html: a page)\n"
    "  serve RUN_DIR     the run's page live on loopback, with a counterfactual playground\n"
    "  verify SCRIPT     rerun a script and compare with --against RUN_DIR\n"
    "  submit SCRIPT     run a sweep as a Slurm job array (whatif submit --help)\n"
    "\n"
    "Each command takes --help.\n";

HostConfig host_config(const po::variables_map& vm) {
  HostConfig config;
  if (vm.count("threads")) config.threads = vm["threads"].as<int>();
  if (vm.count("device")) config.device = vm["device"].as<std::string>();
  if (vm.count("plugin-path")) config.plugin_paths = vm["plugin-path"].as<std::vector<std::string>>();
  return config;
}

void add_plugin_path(po::options_description& options) {
  options.add_options()("plugin-path", po::value<std::vector<std::string>>()->composing(),
                        "extra plugin folder or .so file (repeatable; after the build's folder "
                        "and $WHATIF_PLUGIN_PATH)");
}

int command_run(const std::vector<std::string>& args) {
  po::options_description options("run options");
  options.add_options()("script", po::value<std::string>()->required(), "experiment script (.lua)")(
      "set", po::value<std::vector<std::string>>()->composing(),
      "override a parameter: --set key=value (repeatable; typed by the script's default)")(
      "preset", po::value<std::string>(), "parameter preset declared by the script (smoke|small|paper)")(
      "out", po::value<std::string>(), "run directory (default runs/<script name>)")(
      "threads", po::value<int>(), "intra-op threads (default: number of cores)")(
      "device", po::value<std::string>()->default_value("cpu"), "cpu or cuda")(
      "dry-run", "resolve and print the parameters, build nothing")(
      "fresh", "discard earlier arm results in the run directory and start over")(
      "shard", po::value<std::string>(), "run only shard i of N of the arms: --shard i/N (Slurm arrays)")(
      "nproc", po::value<int>(), "start N local data-parallel ranks (like torchrun --standalone); see "
                                 "docs/distributed.md");
  add_plugin_path(options);
  add_script_limits(options);
  po::positional_options_description positional;
  positional.add("script", 1);
  po::variables_map vm;
  if (!parse_command(args, "usage: whatif run SCRIPT [--set k=v]... [--preset P] [--out DIR] "
                   "[--threads N] [--device cpu|cuda] [--dry-run] [--fresh] [--shard i/N] [--nproc N]",
             options, positional, vm))
    return 0;

  if (vm.count("nproc") && !vm.count("dry-run")) {
    // The launcher starts this command again, N times, without --nproc.
    std::vector<std::string> rest;
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "--nproc") ++i;
      else if (args[i].rfind("--nproc=", 0) != 0) rest.push_back(args[i]);
    }
    return launch_local_ranks(vm["nproc"].as<int>(), rest);
  }
  ScriptArgs script;
  script.path = vm["script"].as<std::string>();
  if (vm.count("set")) script.sets = vm["set"].as<std::vector<std::string>>();
  if (vm.count("preset")) script.preset = vm["preset"].as<std::string>();
  script.dry_run = vm.count("dry-run") > 0;
  script.run_dir = vm.count("out") ? vm["out"].as<std::string>()
                                   : (fs::path("runs") / fs::path(script.path).stem()).string();
  script.fresh = vm.count("fresh") > 0;
  read_script_limits(vm, script);
  if (vm.count("shard")) {
    const std::string shard = vm["shard"].as<std::string>();
    int index = -1, count = 0;
    char slash = 0;
    std::istringstream in(shard);
    if (!(in >> index >> slash >> count) || slash != '/' || count < 1 || index < 0 || index >= count || !in.eof())
      throw UsageError("--shard " + shard + ": expected i/N with 0 <= i < N");
    script.shard_index = index;
    script.shard_count = count;
  }
  execute_script(script, host_config(vm));
  return 0;
}

// "title:" and one line per option (name, type, default, doc), or "title: none".
void print_schema(const std::string& title, const Schema& schema) {
  if (schema.empty()) {
    std::cout << title << ": none\n";
    return;
  }
  std::cout << title << ":\n";
  std::size_t name_width = 4, default_width = 7;
  for (const auto& spec : schema) {
    name_width = std::max(name_width, spec.name.size());
    default_width = std::max(default_width, to_string(spec.default_value).size());
  }
  for (const auto& spec : schema)
    std::cout << "  " << std::left << std::setw(name_width + 2) << spec.name << std::setw(13)
              << to_string(spec.type) << std::setw(default_width + 2) << to_string(spec.default_value)
              << spec.doc << "\n";
}

// A model family: its parts and options, and the options its fit, generate and counterfactual
// take (the defaults are the request structs', the same the Lua schemas use).
void print_model_family(const ModelFamily& family) {
  std::cout << "model/" << family.name << " — " << family.doc << "\nparts:";
  for (const auto& part : family.parts) std::cout << " " << part;
  std::cout << "\n";
  print_schema("options", family.options);
  print_schema("fit options", fit_fields().schema());
  print_schema("generate options (and attributes = {{name = value}, ...})", generate_schema(family));
  print_schema("counterfactual options", counterfactual_schema(family));
}

int command_plugins(const std::vector<std::string>& args) {
  po::options_description options("plugins options");
  options.add_options()("action", po::value<std::string>()->required(), "list | info")(
      "component", po::value<std::string>(), "KIND/NAME for info");
  add_plugin_path(options);
  po::positional_options_description positional;
  positional.add("action", 1).add("component", 1);
  po::variables_map vm;
  if (!parse_command(args, "usage: whatif plugins list | whatif plugins info KIND/NAME", options,
             positional, vm))
    return 0;
  Host host(host_config(vm));
  const Registry& registry = host.registry();
  const std::string action = vm["action"].as<std::string>();
  if (action == "list") {
    if (vm.count("component")) throw UsageError("plugins list takes no further argument");
    const auto entries = registry.entries();
    if (entries.empty()) {
      std::cout << "(no components; plugin search path:";
      for (const auto& p : host.search_path()) std::cout << " " << p;
      std::cout << ")\n";
      return 0;
    }
    std::size_t name_width = 4;
    for (const FactoryEntry* e : entries) name_width = std::max(name_width, e->name.size());
    std::cout << std::left << std::setw(14) << "KIND" << std::setw(name_width + 2) << "NAME"
              << std::setw(10) << "VERSION" << "LIBRARY\n";
    for (const FactoryEntry* e : entries)
      std::cout << std::setw(14) << e->kind << std::setw(name_width + 2) << e->name << std::setw(10)
                << e->version << (e->library.empty() ? e->plugin : e->library) << "\n";
    for (const auto& name : model_family_names())
      std::cout << std::setw(14) << "model" << std::setw(name_width + 2) << name << std::setw(10) << "-"
                << "(core)\n";
    return 0;
  }
  if (action != "info")
    throw UsageError("plugins " + action + ": unknown action" + did_you_mean(action, {"list", "info"}) +
                     " (use list or info)");
  if (!vm.count("component"))
    throw UsageError("plugins info needs KIND/NAME, e.g. schedule/cosine or model/diffusion");
  const std::string which = vm["component"].as<std::string>();
  const auto slash = which.find('/');
  if (slash == std::string::npos) throw UsageError("plugins info " + which + ": expected KIND/NAME");
  if (which.substr(0, slash) == "model") {
    print_model_family(model_family(which.substr(slash + 1)));
    return 0;
  }
  const FactoryEntry& e = registry.find(which.substr(0, slash), which.substr(slash + 1));
  std::cout << e.kind << "/" << e.name << " — " << e.doc << "\n"
            << "plugin: " << e.plugin << " " << e.version << " (" << e.library << ")\n";
  print_schema("options", e.schema);
  return 0;
}

int command_version(const std::vector<std::string>& args) {
  po::options_description options("version options");
  options.add_options()("threads", po::value<int>(), "threads to report (default: cores)");
  po::variables_map vm;
  if (!parse_command(args, "usage: whatif version [--threads N]", options, {}, vm)) return 0;
  HostConfig config = host_config(vm);
  config.plugin_paths.clear();
  Host host(config);
  for (const auto& [key, value] : describe_environment().rows())
    std::cout << std::left << std::setw(16) << key << value << "\n";
  return 0;
}

int dispatch(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string command = args.front();
  args.erase(args.begin());
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "--version") return command_version({});
  static const std::map<std::string, int (*)(const std::vector<std::string>&)> commands{
      {"run", command_run}, {"plugins", command_plugins}, {"version", command_version},
      {"data", command_data}, {"report", command_report}, {"verify", command_verify},
      {"submit", command_submit}, {"serve", command_serve}};
  const auto it = commands.find(command);
  if (it == commands.end()) {
    std::vector<std::string> names;
    for (const auto& [name, fn] : commands) names.push_back(name);
    throw UsageError("unknown command '" + command + "'" + did_you_mean(command, names) +
                     " (see whatif --help)");
  }
  return it->second(args);
}

}  // namespace
}  // namespace whatif

namespace {

// OpenMP threads that spin at every barrier collapse when another process shares the cores (a
// training step 2.6× slower with one competing process, 2.0× with passive waiting, and no cost
// when quiet: docs/building.md). libgomp reads OMP_WAIT_POLICY once, when it is loaded, before
// main: so `whatif run` sets it and starts itself again, unless the user chose a policy.
void prefer_passive_openmp(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) != "run" || std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT"))
    return;
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  ::execv("/proc/self/exe", argv);  // on failure: carry on with the default policy
}

}  // namespace

int main(int argc, char** argv) {
  prefer_passive_openmp(argc, argv);
  try {
    return whatif::dispatch(argc, argv);
  } catch (const whatif::ScriptError& e) {
    std::cerr << "error: " << e.what() << "\n";
    if (!e.traceback().empty()) std::cerr << e.traceback() << "\n";
    return 1;
  } catch (const whatif::UsageError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "error: out of memory: an input declares more data than this machine holds (check the sizes "
                 "of the files and options given)\n";
    return 1;
  } catch (const c10::Error& e) {  // LibTorch's own: its first line, without the C++ backtrace
    std::cerr << "error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}

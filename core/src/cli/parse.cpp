#include "cli/parse.hpp"

#include <algorithm>
#include <cctype>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "lua/script.hpp"

namespace po = boost::program_options;

namespace whatif {

UsageError::~UsageError() = default;

namespace {

// The names positional arguments go by: what users type, in capitals (script → SCRIPT).
std::vector<std::string> positional_names(const po::positional_options_description& positional) {
  std::vector<std::string> names;
  const unsigned count = std::min(positional.max_total_count(), 16u);
  for (unsigned i = 0; i < count; ++i) {
    const std::string& name = positional.name_for_position(i);
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

std::string shown(std::string name) {
  for (char& c : name) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

}  // namespace

bool parse_command(const std::vector<std::string>& args, const std::string& usage,
                   po::options_description& options, const po::positional_options_description& positional,
                   po::variables_map& vm, const std::string& help_hint) {
  options.add_options()("help,h", "show this help");
  const std::vector<std::string> names = positional_names(positional);
  try {
    po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
    if (vm.count("help")) {
      // Positional arguments under the names users type; the rest as options.
      std::cout << usage << "\n";
      po::options_description rest("options");
      std::ostringstream arguments;
      for (const auto& option : options.options()) {
        const auto it = std::find(names.begin(), names.end(), option->long_name());
        if (it == names.end()) rest.add(option);
        else arguments << "  " << std::left << std::setw(20) << shown(*it) << option->description() << "\n";
      }
      if (!arguments.str().empty()) std::cout << "arguments:\n" << arguments.str();
      std::cout << rest << std::endl;
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    std::string message = e.what();
    // "--script" names the positional SCRIPT only where the name ends there (not "--script-timeout").
    const auto ends_at = [&](std::size_t end) {
      return end >= message.size() || !(std::isalnum(static_cast<unsigned char>(message[end])) || message[end] == '-' ||
                                        message[end] == '_');
    };
    for (const auto& name : names)
      for (const std::string& spelled : {"the option '--" + name + "'", "'--" + name + "'", "--" + name})
        for (auto at = message.find(spelled); at != std::string::npos; at = message.find(spelled, at + 1))
          if (spelled.back() == '\'' || ends_at(at + spelled.size())) message.replace(at, spelled.size(), shown(name));
    throw UsageError(message + " (see " + help_hint + ")");
  }
  return true;
}

void add_script_limits(boost::program_options::options_description& options) {
  options.add_options()("script-timeout", boost::program_options::value<double>(),
                        "stop the script when its Lua code runs this many seconds without calling whatif "
                        "(default 600; 0: never)")(
      "script-memory", boost::program_options::value<double>(),
      "cap on the script's Lua memory (tables, strings) in MB (default 1024)");
}

void read_script_limits(const boost::program_options::variables_map& vm, ScriptArgs& script) {
  if (vm.count("script-timeout")) {
    const double t = vm["script-timeout"].as<double>();
    if (!(t >= 0 && t < 1e7)) throw UsageError("--script-timeout: expected seconds >= 0 (0: never)");
    script.script_timeout = t;
  }
  if (vm.count("script-memory")) {
    const double mb = vm["script-memory"].as<double>();
    if (!(mb >= 1 && mb <= 1 << 20)) throw UsageError("--script-memory: expected MB between 1 and 1048576");
    script.script_memory_mb = static_cast<std::size_t>(mb);
  }
}

}  // namespace whatif

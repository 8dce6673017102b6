#include "cli/parse.hpp"

#include <iostream>

namespace po = boost::program_options;

namespace whatif {

UsageError::~UsageError() = default;

bool parse_command(const std::vector<std::string>& args, const std::string& usage,
                   po::options_description& options, const po::positional_options_description& positional,
                   po::variables_map& vm, const std::string& help_hint) {
  options.add_options()("help,h", "show this help");
  try {
    po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
    if (vm.count("help")) {
      std::cout << usage << "\n" << options << std::endl;
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + " (see " + help_hint + ")");
  }
  return true;
}

}  // namespace whatif

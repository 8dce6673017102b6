#pragma once
// What every subcommand shares: its --help, and usage errors (exit status 2).
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "whatif/registry/error.hpp"

namespace whatif {

struct ScriptArgs;

// A command-line mistake; main() prints it and exits with status 2.
struct UsageError : Error {
  using Error::Error;
  ~UsageError() override;
};

// Parses `args` against `options` and `positional`. On --help prints `usage` and the options and
// returns false. A parse error becomes a UsageError ending with `(see <help_hint>)`: the command's
// own --help unless it is a subcommand's (`whatif data --help`).
bool parse_command(const std::vector<std::string>& args, const std::string& usage,
                   boost::program_options::options_description& options,
                   const boost::program_options::positional_options_description& positional,
                   boost::program_options::variables_map& vm, const std::string& help_hint = "--help");

// --script-timeout and --script-memory, the bounds on a script's Lua code (lua/limits.hpp), for
// the commands that run scripts; read into `script`, refusing non-positive or absurd values.
void add_script_limits(boost::program_options::options_description& options);
void read_script_limits(const boost::program_options::variables_map& vm, ScriptArgs& script);

}  // namespace whatif

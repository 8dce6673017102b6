#pragma once
// Runs a whatif experiment script in a sandboxed Lua 5.4 state with the `whatif` module.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "whatif/registry/error.hpp"

struct lua_State;

namespace whatif {
namespace lua {
class Watchdog;
}

class Host;

struct ScriptArgs {
  std::string path;               // the script file
  std::vector<std::string> sets;  // --set key=value
  std::string preset;             // --preset NAME
  bool dry_run = false;           // resolve parameters, print them, build nothing
  std::string run_dir;            // --out
  bool fresh = false;             // --fresh: discard earlier arm results
  int shard_index = 0;            // --shard i/N: run arms with index % N == i
  int shard_count = 1;
  double script_timeout = 600;     // --script-timeout: seconds of Lua code without a whatif call
  std::size_t script_memory_mb = 1024;  // --script-memory: the Lua heap's cap
};

// A script failed. what() is one line, "file:line: message"; traceback() is Lua's.
class ScriptError : public Error {
 public:
  ScriptError(const std::string& message, std::string traceback)
      : Error(message), traceback_(std::move(traceback)) {}
  ~ScriptError() override;
  const std::string& traceback() const { return traceback_; }

 private:
  std::string traceback_;
};

class Script {
 public:
  Script(Host& host, ScriptArgs args);
  ~Script();
  Script(const Script&) = delete;
  Script& operator=(const Script&) = delete;

  // Runs the script file to its end. Throws ScriptError (script errors) or Error (bad arguments).
  void run();
  // Runs a chunk of Lua text as if it were a file named `chunkname` in the script's folder.
  void run_string(const std::string& code, const std::string& chunkname);
  // The parameters as resolved by whatif.params (JSON object), or "{}" if never called.
  std::string resolved_params_json() const;
  bool stopped_by_dry_run() const;

  struct State;

 private:
  void execute(const std::string& code, const std::string& chunkname);
  std::unique_ptr<lua::Watchdog> watchdog_;  // outlives the Lua state, whose allocator it is
  std::unique_ptr<State> state_;
};

}  // namespace whatif

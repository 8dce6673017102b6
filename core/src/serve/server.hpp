#pragma once
// `whatif serve RUN_DIR`: the run's report.html served live, plus the playground's JSON API:
//   GET  /api/models            the run's saved models
//   POST /api/counterfactual    {model, prompts | attributes, seed, guidance, steps} → {job}
//   GET  /api/jobs/<id>         state, queue position, progress; the pair when done
// Everything else is a file of the run directory (confined to it; hidden files refused).
// Bad requests get a 4xx JSON answer {"error": "..."}; the server keeps serving.
#include <functional>
#include <string>

#include "serve/playground.hpp"

namespace whatif {

struct ServeConfig {
  std::string run_dir;
  std::string host = "127.0.0.1";    // loopback unless asked otherwise
  int port = 8470;                   // 0: any free port
  std::size_t max_body = 64 * 1024;  // bytes of a request body
  PlaygroundLimits limits;
};

// Serves until the process is interrupted. `on_listening(port)` runs once the socket is bound.
void serve_run(const ServeConfig& config, const Registry& registry, const std::function<void(int)>& on_listening);

}  // namespace whatif

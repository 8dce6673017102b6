#include "cli/serve_command.hpp"

#include <iostream>

#include <boost/program_options.hpp>

#include "cli/parse.hpp"
#include "host/host.hpp"
#include "results/html_report.hpp"
#include "results/web_assets.hpp"
#include "serve/server.hpp"

namespace po = boost::program_options;

namespace whatif {

int command_serve(const std::vector<std::string>& args) {
  po::options_description options("serve options");
  options.add_options()("run-dir", po::value<std::string>()->required(), "run directory of `whatif run`")(
      "port", po::value<int>()->default_value(8470), "TCP port (0: any free port, printed)")(
      "host", po::value<std::string>()->default_value("127.0.0.1"),
      "address to listen on; the default is loopback only, anything else exposes the playground")(
      "max-steps", po::value<std::int64_t>()->default_value(1000), "largest sampler steps a request may ask for")(
      "threads", po::value<int>(), "intra-op threads for sampling (default: number of cores)")(
      "plugin-path", po::value<std::vector<std::string>>()->composing(), "extra plugin folder or .so file (repeatable)");
  po::positional_options_description positional;
  positional.add("run-dir", 1);
  po::variables_map vm;
  if (!parse_command(args, "usage: whatif serve RUN_DIR [--port P] [--host H] [--max-steps N]", options, positional,
                     vm, "--help"))
    return 0;
  ServeConfig config;
  config.run_dir = vm["run-dir"].as<std::string>();
  config.port = vm["port"].as<int>();
  config.host = vm["host"].as<std::string>();
  config.limits.max_steps = vm["max-steps"].as<std::int64_t>();
  if (config.port < 0 || config.port > 65535) throw UsageError("--port must be between 0 and 65535");
  if (config.limits.max_steps < 1) throw UsageError("--max-steps must be at least 1");
  HostConfig host_config;
  if (vm.count("threads")) host_config.threads = vm["threads"].as<int>();
  if (vm.count("plugin-path")) host_config.plugin_paths = vm["plugin-path"].as<std::vector<std::string>>();
  require_vendored_scripts();
  Host host(host_config);
  write_html_report(config.run_dir);
  if (config.host != "127.0.0.1" && config.host != "::1" && config.host != "localhost")
    std::cerr << "serve: listening on " << config.host << ", not loopback only: anyone who reaches it can queue sampling\n";
  serve_run(config, host.registry(), [&](int port) {
    std::cout << "serving " << config.run_dir << " at http://" << config.host << ":" << port << "/ (Ctrl-C stops)"
              << std::endl;
  });
  return 0;
}

}  // namespace whatif

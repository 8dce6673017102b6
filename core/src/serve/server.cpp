#include "serve/server.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>

#include <httplib.h>

#include "results/run_paths.hpp"

namespace whatif {
namespace fs = std::filesystem;
namespace {

void answer(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void answer_error(httplib::Response& res, int status, const std::string& message) {
  answer(res, status, {{"error", message}});
}

const char* content_type(const fs::path& path) {
  const std::string ext = path.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".json") return "application/json";
  if (ext == ".md" || ext == ".csv" || ext == ".log") return "text/plain; charset=utf-8";
  return "application/octet-stream";  // .nii.gz, .h5
}

// A file of the run directory named by a URL path, or empty when there is none to serve: outside
// the directory after resolving symlinks, hidden (the lock file), or not a regular file.
fs::path run_file(const std::string& run_dir, const std::string& url_path) {
  std::string relative = url_path.substr(1);
  if (relative.empty()) relative = "report.html";
  for (const auto& part : fs::path(relative))
    if (!part.empty() && part.string().front() == '.') return {};
  try {
    const fs::path path = confined_path(run_dir, relative);
    if (fs::is_regular_file(path)) return path;
  } catch (const Error&) {
  }
  return {};
}

}  // namespace

void serve_run(const ServeConfig& config, const Registry& registry, const std::function<void(int)>& on_listening) {
  Playground playground(config.run_dir, registry, config.limits);
  httplib::Server server;
  server.set_payload_max_length(config.max_body);
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const RequestError& error) {
      answer_error(res, error.status, error.what());
    } catch (const std::exception& error) {
      answer_error(res, 500, error.what());
    }
  });
  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    answer_error(res, res.status, res.status == 413 ? "the request body is too large"
                                                    : "cannot answer " + req.method + " " + req.path);
  });
  server.Get("/api/models", [&](const httplib::Request&, httplib::Response& res) { answer(res, 200, playground.models()); });
  server.Post("/api/counterfactual", [&](const httplib::Request& req, httplib::Response& res) {
    answer(res, 202, playground.submit(req.body));
  });
  server.Get(R"(/api/jobs/([0-9A-Za-z]{1,20}))", [&](const httplib::Request& req, httplib::Response& res) {
    answer(res, 200, playground.status(req.matches[1]));
  });
  server.Get(R"(/api/.*)", [](const httplib::Request& req, httplib::Response& res) {
    answer_error(res, 404, "no API endpoint " + req.path + " (api/models, api/counterfactual, api/jobs/<id>)");
  });
  server.Get(R"(/.*)", [&](const httplib::Request& req, httplib::Response& res) {
    const fs::path path = run_file(config.run_dir, req.path);
    if (path.empty()) return answer_error(res, 404, "no file " + req.path + " in the run directory");
    std::ifstream in(path, std::ios::binary);
    res.set_content(std::string(std::istreambuf_iterator<char>(in), {}), content_type(path));
  });
  const int port = config.port == 0 ? server.bind_to_any_port(config.host)
                                    : (server.bind_to_port(config.host, config.port) ? config.port : -1);
  if (port <= 0)
    throw Error("serve: cannot listen on " + config.host + ":" + std::to_string(config.port) +
                " (in use? choose another with --port, or --port 0 for any free one)");
  on_listening(port);
  server.listen_after_bind();
}

}  // namespace whatif

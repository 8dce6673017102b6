#pragma once
// The counterfactual playground behind `whatif serve`: requests for a fixed-noise pair from one of
// the run's saved models are checked, queued and sampled one at a time by one worker thread; a
// client polls a job for its place in the queue, its progress and, at the end, the two volumes.
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "serve/saved_model.hpp"
#include "whatif/registry/error.hpp"

namespace whatif {

// A request the client got wrong: `status` is the HTTP status to answer with (4xx).
struct RequestError : Error {
  RequestError(int status, const std::string& message) : Error(message), status(status) {}
  ~RequestError() override;
  int status;
};

struct PlaygroundLimits {
  std::int64_t max_steps = 1000;     // sampler steps per request
  double max_guidance = 100.0;       // |w|
  std::size_t max_prompt = 1000;     // bytes per prompt
  std::size_t max_queue = 8;         // requests waiting
  std::size_t kept_jobs = 64;        // finished jobs kept for polling
};

class Playground {
 public:
  Playground(std::string run_dir, const Registry& registry, PlaygroundLimits limits = {});
  ~Playground();

  // {"models": [{id, family, attributes, image_shape, text, max_steps}], "note": ...}
  nlohmann::json models() const;
  // Checks a request ({model, prompts | attributes, seed, guidance, steps}) and queues it;
  // returns {"job": id, "position": waiting ahead}. Throws RequestError.
  nlohmann::json submit(const std::string& body);
  // {"state": queued|running|done|failed, "position", "progress", "error", "factual",
  //  "counterfactual", "seconds"}. Throws RequestError(404) for an unknown job.
  nlohmann::json status(const std::string& job) const;

 private:
  struct Job;
  void work();
  std::shared_ptr<Model> model(const SavedModel& saved);

  std::string run_dir_;
  const Registry& registry_;
  PlaygroundLimits limits_;
  std::vector<SavedModel> saved_;
  std::map<std::string, std::shared_ptr<Model>> loaded_;  // touched by the worker only
  std::atomic<double> progress_{0};                       // of the running job

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::string> finished_;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace whatif

#include "serve/playground.hpp"

#include <chrono>
#include <cmath>

#include "results/sample_volumes.hpp"
#include "whatif/registry/suggest.hpp"

namespace whatif {

RequestError::~RequestError() = default;

struct Playground::Job {
  std::string id;
  SavedModel model;
  CounterfactualRequest request;
  std::string state = "queued";
  std::string error;
  nlohmann::json factual, counterfactual;
  double seconds = 0;
};

namespace {

const std::vector<std::string> kFields{"model", "prompts", "attributes", "seed", "guidance", "steps"};

RequestError bad(const std::string& message) { return RequestError(400, message); }

double finite_number(const nlohmann::json& j, const std::string& field) {
  if (!j.is_number()) throw bad("'" + field + "' must be a number, got " + j.dump());
  const double v = j.get<double>();
  if (!std::isfinite(v)) throw bad("'" + field + "' must be finite");
  return v;
}

std::int64_t integer(const nlohmann::json& j, const std::string& field, std::int64_t lo, std::int64_t hi) {
  if (!j.is_number_integer() && !j.is_number_unsigned())
    throw bad("'" + field + "' must be an integer, got " + j.dump());
  const bool too_big = j.is_number_unsigned() && j.get<std::uint64_t>() > static_cast<std::uint64_t>(hi);
  const std::int64_t v = too_big ? hi : j.get<std::int64_t>();
  if (too_big || v < lo || v > hi)
    throw bad("'" + field + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " + j.dump());
  return v;
}

// A pair volume for the page: the image as .nii.gz in base64, as the report embeds samples.
nlohmann::json volume_json(const std::string& name, const at::Tensor& volumes, const data::Geometry& grid) {
  const at::Tensor image = sample_image(volumes);
  return {{"name", name}, {"shape", image.sizes().vec()}, {"spacing", grid.spacing},
          {"nifti", base64(sample_nifti_bytes(image, grid))}};
}

}  // namespace

Playground::Playground(std::string run_dir, const Registry& registry, PlaygroundLimits limits)
    : run_dir_(std::move(run_dir)), registry_(registry), limits_(limits), saved_(find_saved_models(run_dir_)) {
  worker_ = std::thread([this] { work(); });
}

Playground::~Playground() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

nlohmann::json Playground::models() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : saved_)
    list.push_back({{"id", m.id}, {"family", m.family}, {"attributes", m.attributes}, {"image_shape", m.image_shape},
                    {"text", m.text}, {"max_steps", limits_.max_steps}});
  nlohmann::json out{{"models", list}};
  if (saved_.empty())
    out["note"] = "This run holds no saved model: the playground samples from models a script saved with "
                  "model:save(\"model.h5\") (in the run directory or an arm's folder). Training checkpoints "
                  "are not enough (they do not record the image shape).";
  return out;
}

nlohmann::json Playground::submit(const std::string& body) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) throw bad("the request body is not valid JSON");
  if (!j.is_object()) throw bad("the request body must be a JSON object with fields model, prompts or attributes, seed, guidance, steps");
  for (const auto& [key, value] : j.items())
    if (std::find(kFields.begin(), kFields.end(), key) == kFields.end()) {
      const std::string close = closest_name(key, kFields);
      throw bad("unknown field '" + key + "'" + (close.empty() ? "" : "; did you mean '" + close + "'?") +
                " (fields: model, prompts, attributes, seed, guidance, steps)");
    }
  if (saved_.empty()) throw RequestError(409, "this run holds no saved model to sample from");
  const SavedModel* model = nullptr;
  if (j.contains("model")) {
    if (!j["model"].is_string()) throw bad("'model' must be a string, one of the ids api/models lists");
    const std::string id = j["model"];
    for (const auto& m : saved_)
      if (m.id == id) model = &m;
    if (!model) throw RequestError(404, "no saved model '" + id + "' in this run (see api/models)");
  } else if (saved_.size() == 1) {
    model = &saved_.front();
  } else {
    throw bad("'model' is required: this run holds several saved models (see api/models)");
  }

  auto job = std::make_shared<Job>();
  job->model = *model;
  CounterfactualRequest& r = job->request;
  r.protocol = "fixed-noise";
  if (j.contains("seed")) r.sampling.seed = static_cast<std::uint64_t>(integer(j["seed"], "seed", 0, std::int64_t{1} << 53));
  if (j.contains("steps")) r.sampling.steps = integer(j["steps"], "steps", 1, limits_.max_steps);
  if (j.contains("guidance")) {
    r.sampling.guidance = finite_number(j["guidance"], "guidance");
    if (std::abs(r.sampling.guidance) > limits_.max_guidance)
      throw bad("'guidance' must be within ±" + std::to_string(static_cast<int>(limits_.max_guidance)));
  }
  const bool prompts = j.contains("prompts"), attributes = j.contains("attributes");
  if (prompts == attributes) throw bad("give either 'prompts' (two strings) or 'attributes' (two objects)");
  if (prompts) {
    if (!model->text) throw bad("model '" + model->id + "' has no text encoder; give 'attributes'");
    const auto& p = j["prompts"];
    if (!p.is_array() || p.size() != 2 || !p[0].is_string() || !p[1].is_string())
      throw bad("'prompts' must be two strings: [factual, counterfactual]");
    for (const auto& s : p)
      if (s.get<std::string>().size() > limits_.max_prompt)
        throw bad("a prompt is longer than " + std::to_string(limits_.max_prompt) + " bytes");
    r.factual.prompts = {p[0].get<std::string>()};
    r.counterfactual.prompts = {p[1].get<std::string>()};
  } else {
    const auto& a = j["attributes"];
    if (!a.is_array() || a.size() != 2 || !a[0].is_object() || !a[1].is_object())
      throw bad("'attributes' must be two objects: [{name: value, ...}, {name: value, ...}]");
    for (int side = 0; side < 2; ++side) {
      std::map<std::string, double> row;
      for (const auto& [name, value] : a[side].items()) {
        if (std::find(model->attributes.begin(), model->attributes.end(), name) == model->attributes.end())
          throw bad("unknown attribute '" + name + "'" + (closest_name(name, model->attributes).empty() ? "" : "; did you mean '" + closest_name(name, model->attributes) + "'?"));
        row[name] = finite_number(value, "attributes." + name);
      }
      for (const auto& name : model->attributes)
        if (!row.count(name)) throw bad("attribute '" + name + "' is missing (the model was trained on it)");
      (side == 0 ? r.factual : r.counterfactual).attributes = {row};
    }
  }

  std::lock_guard<std::mutex> lock(mutex_);
  if (queue_.size() >= limits_.max_queue)
    throw RequestError(503, "the queue is full (" + std::to_string(limits_.max_queue) + " requests waiting); try again shortly");
  job->id = std::to_string(next_id_++);
  const std::size_t position = queue_.size();
  queue_.push_back(job);
  jobs_[job->id] = job;
  wake_.notify_one();
  return {{"job", job->id}, {"position", position}};
}

nlohmann::json Playground::status(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = jobs_.find(id);
  if (it == jobs_.end()) throw RequestError(404, "no job '" + id + "' (finished jobs are kept for a while only)");
  const Job& job = *it->second;
  nlohmann::json out{{"job", job.id}, {"state", job.state}};
  if (job.state == "queued") {
    std::size_t ahead = 0;
    for (const auto& q : queue_) {
      if (q->id == id) break;
      ++ahead;
    }
    out["position"] = ahead;
  }
  if (job.state == "running") out["progress"] = progress_.load();
  if (job.state == "failed") out["error"] = job.error;
  if (job.state == "done") {
    out["factual"] = job.factual;
    out["counterfactual"] = job.counterfactual;
    out["seconds"] = job.seconds;
    out["progress"] = 1.0;
  }
  return out;
}

std::shared_ptr<Model> Playground::model(const SavedModel& saved) {
  auto it = loaded_.find(saved.id);
  if (it == loaded_.end()) {
    auto m = rebuild_model(saved, registry_, [this](std::int64_t step, std::int64_t steps) {
      progress_ = std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(std::max<std::int64_t>(steps, 1)));
    });
    it = loaded_.emplace(saved.id, std::move(m)).first;
  }
  return it->second;
}

void Playground::work() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = queue_.front();
      queue_.pop_front();
      job->state = "running";
      progress_ = 0;
    }
    const auto start = std::chrono::steady_clock::now();
    std::string error;
    nlohmann::json factual, counterfactual;
    try {
      const Pair pair = model(job->model)->counterfactual(job->request);
      factual = volume_json("factual", pair.factual.volumes, job->model.geometry);
      counterfactual = volume_json("counterfactual", pair.counterfactual.volumes, job->model.geometry);
    } catch (const std::exception& e) {
      error = e.what();
    }
    std::lock_guard<std::mutex> lock(mutex_);
    job->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    job->state = error.empty() ? "done" : "failed";
    job->error = error;
    job->factual = std::move(factual);
    job->counterfactual = std::move(counterfactual);
    finished_.push_back(job->id);
    while (finished_.size() > limits_.kept_jobs) {
      jobs_.erase(finished_.front());
      finished_.pop_front();
    }
  }
}

}  // namespace whatif

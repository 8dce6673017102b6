#include "serve/saved_model.hpp"

#include <algorithm>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "results/geometry_json.hpp"
#include "train/checkpoint.hpp"
#include "whatif/model_family.hpp"
#include "whatif/registry/error.hpp"
#include "whatif/sampler.hpp"

namespace whatif {
namespace fs = std::filesystem;
namespace {

// A sampler that tells `on_step` about each step and otherwise is the one it wraps: the model's
// own progress hook (SampleOptions::on_step) still runs.
class ReportingSampler : public Sampler {
 public:
  ReportingSampler(std::shared_ptr<Sampler> inner, StepCallback on_step)
      : inner_(std::move(inner)), on_step_(std::move(on_step)) {
    stamp(inner_->identity(), inner_->hyperparams());
  }
  at::Tensor sample(const DenoiseFn& denoise, const Schedule& schedule, at::Tensor x,
                    const SampleOptions& options) const override {
    return inner_->sample(denoise, schedule, std::move(x), reporting(options));
  }
  bool invertible() const override { return inner_->invertible(); }
  bool stochastic() const override { return inner_->stochastic(); }
  at::Tensor invert(const DenoiseFn& denoise, const Schedule& schedule, at::Tensor x,
                    const SampleOptions& options) const override {
    return inner_->invert(denoise, schedule, std::move(x), reporting(options));
  }

 private:
  SampleOptions reporting(const SampleOptions& options) const {
    SampleOptions o = options;
    o.on_step = [inner = options.on_step, report = on_step_](std::int64_t step, std::int64_t steps) {
      if (inner) inner(step, steps);
      report(step, steps);
    };
    return o;
  }
  std::shared_ptr<Sampler> inner_;
  StepCallback on_step_;
};

// A recorded option value as the schema's type says (JSON alone cannot tell 2 from 2.0 or type
// an empty list).
Value option_value(const nlohmann::json& j, OptionType type, const std::string& what) {
  try {
    switch (type) {
      case OptionType::Bool: return j.get<bool>();
      case OptionType::Int: return j.get<std::int64_t>();
      case OptionType::Double: return j.get<double>();
      case OptionType::String: return j.get<std::string>();
      case OptionType::IntList: return j.get<std::vector<std::int64_t>>();
      case OptionType::DoubleList: return j.get<std::vector<double>>();
      case OptionType::StringList: return j.get<std::vector<std::string>>();
    }
  } catch (const nlohmann::json::exception&) {
  }
  throw Error(what + ": recorded value " + j.dump() + " is not of type " + to_string(type));
}

// Options from a recorded {"key": value} against `schema`; only values that differ from the
// defaults are given, so the rebuilt part reads exactly what a script would have passed.
Options recorded_options(const nlohmann::json& recorded, const Schema& schema, const std::string& what) {
  Options options;
  for (const auto& [key, value] : recorded.items()) {
    const auto spec = std::find_if(schema.begin(), schema.end(), [&](const OptionSpec& s) { return s.name == key; });
    if (spec == schema.end())
      throw Error(what + ": option '" + key + "' is recorded but not known to this build (another plugin version?)");
    const Value v = option_value(value, spec->type, what + " option '" + key + "'");
    if (!(v == spec->default_value)) options.set(key, v);
  }
  return options;
}

}  // namespace

std::vector<SavedModel> find_saved_models(const std::string& run_dir) {
  std::vector<SavedModel> models;
  const fs::path root(run_dir);
  std::vector<fs::path> candidates;
  for (const auto& item : fs::directory_iterator(root)) {
    if (item.is_regular_file() && item.path().extension() == ".h5") candidates.push_back(item.path());
    if (item.is_directory())
      for (const auto& inner : fs::directory_iterator(item.path()))
        if (inner.is_regular_file() && inner.path().extension() == ".h5") candidates.push_back(inner.path());
  }
  for (const auto& path : candidates) {
    Checkpoint c;
    try {
      c = read_checkpoint(path.string());
    } catch (const std::exception&) {
      continue;  // not a whatif HDF5 file
    }
    const auto format = c.strings.find("format");
    if (format == c.strings.end() || format->second.rfind("whatif-", 0) != 0) continue;
    const std::string family = format->second.substr(7, format->second.rfind('-') - 7);
    const auto names = model_family_names();
    if (std::find(names.begin(), names.end(), family) == names.end() || !c.strings.count("config")) continue;
    SavedModel m;
    m.id = fs::relative(path, root).generic_string();
    m.path = path.string();
    m.family = family;
    if (c.strings.count("attribute_names"))
      m.attributes = nlohmann::json::parse(c.strings.at("attribute_names")).get<std::vector<std::string>>();
    if (c.strings.count("image_shape"))
      m.image_shape = nlohmann::json::parse(c.strings.at("image_shape")).get<std::vector<std::int64_t>>();
    const auto config = nlohmann::json::parse(c.strings.at("config"));
    m.text = config.contains("text") && !config["text"].is_null();
    if (c.strings.count("data")) {
      const auto data = nlohmann::json::parse(c.strings.at("data"), nullptr, false);
      if (data.is_object() && data.contains("geometry")) m.geometry = geometry_from_json(data["geometry"], path.string());
    }
    models.push_back(std::move(m));
  }
  std::sort(models.begin(), models.end(), [](const SavedModel& a, const SavedModel& b) { return a.id < b.id; });
  return models;
}

std::shared_ptr<Model> rebuild_model(const SavedModel& saved, const Registry& registry, StepCallback on_step) {
  const Checkpoint c = read_checkpoint(saved.path);
  const ModelFamily& family = model_family(saved.family);
  const auto config = nlohmann::json::parse(c.strings.at("config"));
  ModelParts parts;
  parts.family = family.name;
  Options options;
  for (const auto& [field, value] : config.items()) {
    const std::string what = saved.id + ": " + field;
    if (std::find(family.parts.begin(), family.parts.end(), field) != family.parts.end()) {
      if (value.is_null()) continue;
      const std::string kind = value.at("kind"), name = value.at("name");
      const FactoryEntry& entry = registry.find(kind, name);
      auto part = registry.create(kind, name, recorded_options(value.at("options"), entry.schema, what));
      if (auto sampler = std::dynamic_pointer_cast<Sampler>(part); sampler && on_step)
        part = std::make_shared<ReportingSampler>(sampler, on_step);
      parts.parts[field] = part;
    } else if (value.is_object()) {
      // The family's own options, recorded as a group (diffusion: "process").
      for (const auto& [key, v] : value.items()) {
        const auto spec = std::find_if(family.options.begin(), family.options.end(),
                                       [&](const OptionSpec& s) { return s.name == key; });
        if (spec != family.options.end()) options.set(key, option_value(v, spec->type, what + "." + key));
      }
    }
  }
  parts.options = options.resolve(family.options, "model/" + family.name);
  std::shared_ptr<Model> model = family.make(parts);
  model->load(saved.path);
  return model;
}

}  // namespace whatif

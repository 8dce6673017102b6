#include "diffusion/diffusion_model.hpp"

#include "util/progress.hpp"

#include <algorithm>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include "diffusion/latent_cache.hpp"
#include "diffusion/tiling.hpp"
#include "whatif/batch_sampler.hpp"
#include "train/checkpoint.hpp"
#include "model/component_json.hpp"
#include "train/data_description.hpp"
#include "util/progress.hpp"
#include "whatif/registry/error.hpp"

namespace whatif {

DiffusionModel::DiffusionModel(DiffusionParts parts, ProcessConfig config)
    : parts_(std::move(parts)), process_(config, *parts_.denoiser, *parts_.schedule) {
  if (!parts_.encoder || !parts_.denoiser || !parts_.schedule || !parts_.sampler)
    throw Error("diffusion: encoder, denoiser, schedule and sampler are required");
  if (parts_.conditioning && parts_.text) parts_.conditioning->attach_text(parts_.text);
}

std::vector<std::pair<std::string, Trainable*>> DiffusionModel::trainable_parts() const {
  std::vector<std::pair<std::string, Trainable*>> parts{{"denoiser", parts_.denoiser.get()}};
  if (parts_.conditioning) parts.emplace_back("conditioning", parts_.conditioning.get());
  if (parts_.text && !parts_.text->frozen()) parts.emplace_back("text", parts_.text.get());
  return parts;
}

std::string DiffusionModel::config_json() const {
  nlohmann::json j{{"encoder", component_json(parts_.encoder.get())},
                   {"denoiser", component_json(parts_.denoiser.get())},
                   {"schedule", component_json(parts_.schedule.get())},
                   {"sampler", component_json(parts_.sampler.get())},
                   {"conditioning", component_json(parts_.conditioning.get())},
                   {"text", component_json(parts_.text.get())},
                   {"process",
                    {{"target", to_string(process_.config().target)},
                     {"weighting", to_string(process_.config().weighting)},
                     {"min_snr_gamma", process_.config().min_snr_gamma},
                     {"sigmoid_bias", process_.config().sigmoid_bias},
                     {"multiscale", process_.config().multiscale},
                     {"mask_weight", process_.config().mask_weight}}}};
  return j.dump();
}

at::Tensor DiffusionModel::attributes_tensor(const std::vector<std::map<std::string, double>>& rows) const {
  at::Tensor out = at::zeros({static_cast<std::int64_t>(rows.size()),
                              static_cast<std::int64_t>(attribute_names_.size())});
  for (std::size_t i = 0; i < rows.size(); ++i)
    for (std::size_t j = 0; j < attribute_names_.size(); ++j) {
      const auto it = rows[i].find(attribute_names_[j]);
      if (it == rows[i].end())
        throw Error("attributes: missing '" + attribute_names_[j] + "' (the model was trained on them)");
      out.index_put_({static_cast<std::int64_t>(i), static_cast<std::int64_t>(j)}, it->second);
    }
  return out;
}

std::vector<at::Tensor> DiffusionModel::loss_masks(const Dataset& data, const std::vector<at::Tensor>& representations) const {
  std::vector<at::Tensor> masks;
  if (process_.config().mask_weight <= 0) return masks;
  // The masks are read from the dataset even when the latents come from the cache.
  for (std::int64_t i = 0; i < data.size(); ++i) {
    const Example e = data.get(i);
    const at::Tensor& z = representations[static_cast<std::size_t>(i)];
    if (!e.mask.defined() || e.mask.dim() != z.dim())
      throw Error("diffusion fit: example " + std::to_string(i) + " has no mask of the image's dimensions; option "
                  "'mask_weight' needs a dataset with masks (synthetic-brain, synthetic-chest), or set it to 0");
    // Any label counts as inside. In latent space a latent voxel is inside when any image voxel it
    // covers is (adaptive max pooling to the latent's grid).
    at::Tensor inside = (e.mask.narrow(0, 0, 1) > 0).to(at::kFloat).unsqueeze(0);
    const auto grid = z.sizes().slice(1);
    if (inside.sizes().slice(2) != grid)
      inside = std::get<0>(z.dim() == 4 ? at::adaptive_max_pool3d(inside, grid) : at::adaptive_max_pool2d(inside, grid));
    masks.push_back(inside[0]);
  }
  return masks;
}

FitResult DiffusionModel::fit(const Dataset& data, const FitRequest& options) {
  if (data.size() == 0) throw Error("diffusion fit: the dataset is empty");
  // Representations are computed once, not every step (or read from the latent cache): latent
  // diffusion trains on cached latents.
  const EncodedData encoded = encode_dataset(*parts_.encoder, data, options.latent_cache);
  const std::int64_t n = static_cast<std::int64_t>(encoded.latents.size());
  image_shape_ = encoded.image_shape;
  attribute_names_ = data.attribute_names();
  if (!options.attributes.empty()) {
    for (const auto& name : options.attributes)
      if (std::find(attribute_names_.begin(), attribute_names_.end(), name) == attribute_names_.end()) {
        std::string have;
        for (const auto& a : attribute_names_) have += (have.empty() ? "" : ", ") + a;
        throw Error("fit: the dataset has no attribute '" + name + "' (it has: " + (have.empty() ? "none" : have) + ")");
      }
    attribute_names_ = options.attributes;
  }
  if (parts_.text && !parts_.text->frozen()) parts_.text->fit_tokenizer(encoded.texts, options.tokenizer_dir);
  const std::vector<at::Tensor>& representations = encoded.latents;
  const std::vector<at::Tensor> masks = loss_masks(data, representations);
  TrainConfig train = options.train;
  train.config_json = config_json();
  train.data_json = data_json_ = describe_data(data);
  Trainer trainer(train, trainable_parts());
  const std::int64_t batch = options.batch_size;
  const BatchSampler sampler(n, batch, train.accumulate, train.seed);
  auto loss = [&](std::int64_t step, std::int64_t micro, at::Generator& generator,
                  std::map<std::string, double>&) {
    std::vector<at::Tensor> latents, mask;
    CondInput input;
    std::vector<std::map<std::string, double>> attributes;
    for (const std::int64_t index : sampler.indices(step, micro)) {
      const auto i = static_cast<std::size_t>(index);
      latents.push_back(representations[i]);
      input.text.push_back(encoded.texts[i]);
      attributes.push_back(encoded.attributes[i]);
      if (!masks.empty()) mask.push_back(masks[i]);
    }
    const at::Tensor x0 = at::stack(latents);
    Cond cond;
    if (parts_.conditioning) {
      if (!attribute_names_.empty()) input.attributes = attributes_tensor(attributes);
      cond = parts_.conditioning->encode(input);
      const double p = parts_.conditioning->dropout();
      if (p > 0) {
        const at::Tensor drop = at::rand({batch}, generator) < p;
        cond = parts_.conditioning->drop(cond, drop);
      }
    }
    return process_.loss(x0, cond, generator, mask.empty() ? at::Tensor() : at::stack(mask));
  };
  FitResult result;
  result.train = trainer.fit(loss);
  trainer.use_ema(true);  // sample with the averaged weights
  return result;
}

std::int64_t DiffusionModel::batch_of(const Condition& c) const {
  if (!c.prompts.empty() && !c.attributes.empty()) throw Error("generate: give prompts or attributes, not both");
  const std::int64_t batch = !c.prompts.empty()      ? static_cast<std::int64_t>(c.prompts.size())
                             : !c.attributes.empty() ? static_cast<std::int64_t>(c.attributes.size())
                                                     : c.count;
  if (batch <= 0) throw Error("generate: give prompts, attributes or a positive count");
  return batch;
}

Cond DiffusionModel::condition(const Condition& c, std::int64_t batch) const {
  if (!parts_.conditioning) {
    if (!c.prompts.empty() || !c.attributes.empty())
      throw Error("generate: this model has no conditioning; give only a count");
    return {};
  }
  if (c.prompts.empty() && c.attributes.empty()) return parts_.conditioning->null(batch);
  CondInput input;
  if (!c.prompts.empty()) input.text = c.prompts;
  else input.attributes = attributes_tensor(c.attributes);
  return parts_.conditioning->encode(input);
}

DenoiseFn DiffusionModel::guided(const Condition& c, double guidance) {
  const std::int64_t batch = batch_of(c);
  const Cond cond = condition(c, batch);
  if (!parts_.conditioning) return process_.guided(cond, cond, 1.0);
  return process_.guided(cond, parts_.conditioning->null(batch), guidance);
}

at::Tensor DiffusionModel::start_noise(std::int64_t batch, std::uint64_t seed, double t_start) const {
  if (image_shape_.empty())
    throw Error("generate: the model does not know its image shape (fit or load it first)");
  std::vector<std::int64_t> shape{batch};
  for (const auto s : parts_.encoder->latent_shape(image_shape_)) shape.push_back(s);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor eps = at::randn(shape, generator);
  // x at t_start is σ(t_start) ε (plus α x, negligible at the start of sampling from noise).
  const auto [alpha, sigma] = parts_.schedule->alpha_sigma(at::full({1}, t_start, at::kDouble));
  return eps * sigma.item<double>();
}

at::Tensor DiffusionModel::encode(const at::Tensor& images) {
  at::NoGradGuard no_grad;
  eval_mode();
  return parts_.encoder->encode(images);
}

at::Tensor DiffusionModel::decode(const at::Tensor& z, const Decoding& decoding) {
  at::NoGradGuard no_grad;
  eval_mode();
  if (decoding.tile <= 0) return parts_.encoder->decode(z);
  Tiling tiling;
  tiling.tile = decoding.tile;
  tiling.overlap = decoding.overlap;
  return tiled_decode(*parts_.encoder, z, tiling);
}

void DiffusionModel::eval_mode() {
  parts_.encoder->train(false);
  for (const auto& [prefix, part] : trainable_parts()) part->train(false);
}

at::Tensor DiffusionModel::sample(const Condition& c, const Sampling& sampling, const at::Tensor& z) {
  at::NoGradGuard no_grad;
  eval_mode();
  const DenoiseFn denoise = guided(c, sampling.guidance);
  if (batch_of(c) != z.size(0)) throw Error("sample: one condition per starting latent");
  SampleOptions options;
  options.steps = sampling.steps;
  options.t_start = sampling.t_start;
  options.generator = at::make_generator<at::CPUGeneratorImpl>(sampling.seed + 1);
  Progress progress(sampling.steps, "sampling " + std::to_string(z.size(0)));
  progress.set_patience(2.0);
  options.on_step = [&](std::int64_t, std::int64_t) { progress.tick(); };
  return parts_.sampler->sample(denoise, *parts_.schedule, z, options);
}

at::Tensor DiffusionModel::invert(const Condition& c, const Sampling& sampling, const at::Tensor& z0,
                                  double strength) {
  if (!parts_.sampler->invertible())
    throw Error("inversion needs a deterministic, invertible sampler such as ddim with eta=0");
  if (!(strength > 0 && strength <= 1)) throw Error("inversion strength must be in (0, 1]");
  at::NoGradGuard no_grad;
  eval_mode();
  const DenoiseFn denoise = guided(c, sampling.guidance);
  if (batch_of(c) != z0.size(0)) throw Error("inversion: one factual condition per image");
  SampleOptions options;
  options.steps = sampling.steps;
  options.t_start = strength;
  Progress progress(sampling.steps, "inverting " + std::to_string(z0.size(0)));
  progress.set_patience(2.0);
  options.on_step = [&](std::int64_t, std::int64_t) { progress.tick(); };
  return parts_.sampler->invert(denoise, *parts_.schedule, z0, options);
}

Generation DiffusionModel::generate(const GenerateRequest& request) {
  at::NoGradGuard no_grad;
  const std::int64_t batch = batch_of(request.condition);
  const Sampling& s = request.sampling;
  Generation out;
  out.latents = sample(request.condition, s, start_noise(batch, s.seed, s.t_start));
  out.volumes = decode(out.latents, request.decoding);
  return out;
}

Pair DiffusionModel::counterfactual(const CounterfactualRequest& request) {
  return diffusion_counterfactual(*this, request);
}

void DiffusionModel::save(const std::string& path) const {
  Checkpoint c;
  for (const auto& [prefix, part] : trainable_parts()) {
    for (auto& [name, p] : part->named_parameters()) c.groups["params"].emplace_back(prefix + "." + name, p);
    for (auto& [name, b] : part->named_buffers()) c.groups["buffers"].emplace_back(prefix + "." + name, b);
  }
  c.strings["config"] = config_json();
  c.strings["format"] = "whatif-diffusion-1";
  c.strings["attribute_names"] = nlohmann::json(attribute_names_).dump();
  c.strings["image_shape"] = nlohmann::json(image_shape_).dump();
  c.strings["data"] = data_json_;
  write_checkpoint(path, c);
}

void DiffusionModel::load(const std::string& path) {
  const Checkpoint c = read_checkpoint(path);
  if (!c.strings.count("format") || c.strings.at("format") != "whatif-diffusion-1")
    throw Error(path + ": not a whatif diffusion model (save one with model:save)");
  NamedTensors params, buffers;
  for (const auto& [prefix, part] : trainable_parts()) {
    for (auto& [name, p] : part->named_parameters()) params.emplace_back(prefix + "." + name, p);
    for (auto& [name, b] : part->named_buffers()) buffers.emplace_back(prefix + "." + name, b);
  }
  const auto group = [&](const std::string& g) {
    const auto it = c.groups.find(g);
    return it == c.groups.end() ? NamedTensors{} : it->second;
  };
  restore_tensors(group("params"), params, false, path);
  restore_tensors(group("buffers"), buffers, true, path);
  attribute_names_ = nlohmann::json::parse(c.strings.at("attribute_names")).get<std::vector<std::string>>();
  image_shape_ = nlohmann::json::parse(c.strings.at("image_shape")).get<std::vector<std::int64_t>>();
}

}  // namespace whatif

#include "clip/clip_model.hpp"

#include <cmath>
#include <functional>
#include <tuple>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "clip/text_tower.hpp"
#include "model/component_json.hpp"
#include "train/autocast.hpp"
#include "train/checkpoint.hpp"
#include "train/data_description.hpp"
#include "whatif/batch_sampler.hpp"
#include "whatif/registry/error.hpp"
#include "whatif/trainer.hpp"

namespace whatif {
namespace {

constexpr const char* kClipFormat = "whatif-clip-1";
constexpr std::int64_t kEmbedBatch = 16;

}  // namespace

// The projections into the joint space, the temperature, the image intensity standardisation
// fitted on the training images (a buffer: checkpoints keep it), and, with a mask loss, the mask
// head and its class weights.
class ClipModel::Heads : public Trainable {
 public:
  Heads(std::int64_t image_width, std::int64_t text_width, const ClipConfig& c) {
    // CLIP's initialisation: projections ~ N(0, width^-1/2), τ = the configured start.
    image_projection = at::randn({c.embed_dim, image_width}) / std::sqrt(static_cast<double>(image_width));
    text_projection = at::randn({c.embed_dim, text_width}) / std::sqrt(static_cast<double>(text_width));
    logit_scale = at::full({}, std::log(1.0 / c.temperature), at::kFloat);
    for (auto* p : {&image_projection, &text_projection, &logit_scale}) p->requires_grad_(true);
    image_mean = at::zeros({1}, at::kFloat);
    image_std = at::ones({1}, at::kFloat);
    max_log_scale = std::log(c.max_logit_scale);
  }
  NamedTensors named_parameters() override {
    NamedTensors out{{"image_projection", image_projection}, {"text_projection", text_projection},
                     {"logit_scale", logit_scale}};
    if (has_mask_head()) out.insert(out.end(), {{"mask_projection", mask_projection}, {"mask_bias", mask_bias}});
    return out;
  }
  NamedTensors named_buffers() override {
    NamedTensors out{{"image_mean", image_mean}, {"image_std", image_std}};
    if (has_mask_head()) out.emplace_back("mask_class_weights", mask_class_weights);
    return out;
  }
  void train(bool) override {}
  void to(const c10::Device& device) override {
    at::NoGradGuard no_grad;
    for (auto* t : {&image_projection, &text_projection, &logit_scale, &image_mean, &image_std, &mask_projection,
                    &mask_bias, &mask_class_weights})
      if (t->defined()) t->set_data(t->to(device));
  }
  at::Tensor scale(const at::Tensor& log_scale) const { return log_scale.clamp_max(max_log_scale).exp(); }
  at::Tensor standardise(const at::Tensor& x) const { return (x - image_mean) / image_std; }

  bool has_mask_head() const { return mask_projection.defined(); }
  std::int64_t mask_classes() const { return has_mask_head() ? mask_projection.size(0) : 0; }
  // A 1×1 head from `channels` map features to `classes` labels (zero-initialised: it starts at
  // the uniform prediction).
  void make_mask_head(std::int64_t classes, std::int64_t channels) {
    mask_projection = at::zeros({classes, channels}).requires_grad_(true);
    mask_bias = at::zeros({classes}).requires_grad_(true);
    mask_class_weights = at::ones({classes});
  }
  // map [B, C, *S] → logits [B, K, *S]: per-example, per-channel normalisation, SiLU, 1×1 map.
  at::Tensor mask_logits(const at::Tensor& map) const {
    AutocastGuard fp32(false);  // GroupNorm under CPU autocast wants fp32
    const at::Tensor h = at::silu(at::group_norm(map.to(at::kFloat), map.size(1)));
    return (at::matmul(h.movedim(1, -1), mask_projection.t()) + mask_bias).movedim(-1, 1);
  }

  at::Tensor image_projection, text_projection, logit_scale, image_mean, image_std;
  at::Tensor mask_projection, mask_bias, mask_class_weights;  // undefined without a mask loss
  double max_log_scale = 0;
};

const Fields<ClipConfig>& ClipConfig::fields() {
  using C = ClipConfig;
  static const Fields<C> fields = Fields<C>()
      .add("embed_dim", &C::embed_dim, "width of the joint image–text space")
      .add("temperature", &C::temperature, "initial softmax temperature τ (learned from there)")
      .add("max_logit_scale", &C::max_logit_scale, "1/τ is clamped at this")
      .add("bf16", &C::bf16, "embed under bf16 autocast")
      .add("mask_weight", &C::mask_weight,
           "weight of an auxiliary per-voxel loss on the dataset's masks, read from the image tower's "
           "full-resolution map (0: off)");
  return fields;
}

void ClipConfig::check() const {
  if (embed_dim < 1) throw Error("option 'embed_dim' must be ≥ 1");
  if (!(temperature > 0 && temperature < 10)) throw Error("option 'temperature' must be in (0, 10)");
  if (!(max_logit_scale >= 1 / temperature))
    throw Error("option 'max_logit_scale' must be ≥ 1 / temperature (" + std::to_string(1 / temperature) + ")");
  if (!(mask_weight >= 0) || !std::isfinite(mask_weight)) throw Error("option 'mask_weight' must be a number ≥ 0");
}

at::Tensor clip_loss(const at::Tensor& images, const at::Tensor& texts, const at::Tensor& scale,
                     const at::Tensor& groups, std::map<std::string, double>* logs) {
  AutocastGuard fp32(false);  // similarities and softmax in fp32 whatever the towers ran in
  const at::Tensor i = images.to(at::kFloat), t = texts.to(at::kFloat);
  const at::Tensor logits = scale * at::matmul(i / i.norm(2, 1, true).clamp_min(1e-12),
                                               (t / t.norm(2, 1, true).clamp_min(1e-12)).t());
  const at::Tensor same = (groups.unsqueeze(1) == groups.unsqueeze(0)).to(at::kFloat);
  const at::Tensor target = same / same.sum(1, true);  // symmetric, so it serves both directions
  const at::Tensor image_to_text = -(target * at::log_softmax(logits, 1)).sum(1).mean();
  const at::Tensor text_to_image = -(target * at::log_softmax(logits.t(), 1)).sum(1).mean();
  if (logs) {
    const at::Tensor best = logits.argmax(1);
    (*logs)["batch_accuracy"] = same.gather(1, best.unsqueeze(1)).mean().item<double>();
    (*logs)["temperature"] = 1.0 / scale.item<double>();
  }
  return (image_to_text + text_to_image) / 2;
}

at::Tensor mask_loss(const at::Tensor& logits, const at::Tensor& labels, const at::Tensor& weights) {
  AutocastGuard fp32(false);
  return at::cross_entropy_loss(logits.to(at::kFloat), labels, weights);  // 'mean' divides by Σ weights[label]
}

at::Tensor balanced_class_weights(const at::Tensor& counts) {
  const at::Tensor c = counts.to(at::kDouble);
  const at::Tensor present = c > 0;
  const double labels = present.sum().item<double>();
  return at::where(present, c.sum() / (labels * c.clamp_min(1)), at::zeros_like(c)).to(at::kFloat);
}

ClipModel::ClipModel(ClipParts parts, ClipConfig config) : parts_(std::move(parts)), config_(config) {
  if (!parts_.image || !parts_.text) throw Error("clip: 'image' (a vision tower) and 'text' are required");
  config_.check();
  heads_ = std::make_unique<Heads>(parts_.image->width(), parts_.text->width(), config_);
}

ClipModel::~ClipModel() = default;

std::string ClipModel::config_json() const {
  Options options;
  for (const auto& e : ClipConfig::fields().entries()) options.set(e.spec.name, e.get(config_));
  return nlohmann::json{{"image", component_json(parts_.image.get())},
                        {"text", component_json(parts_.text.get())},
                        {"clip", nlohmann::json::parse(options.to_json())}}
      .dump();
}

double ClipModel::temperature() const {
  at::NoGradGuard no_grad;
  return 1.0 / heads_->scale(heads_->logit_scale).item<double>();
}

at::Tensor ClipModel::image_features(const at::Tensor& x) {
  return at::matmul(parts_.image->embed(heads_->standardise(x)), heads_->image_projection.t());
}

std::pair<at::Tensor, at::Tensor> ClipModel::image_features_and_masks(const at::Tensor& x) {
  const auto [embedding, map] = parts_.image->embed_with_map(heads_->standardise(x));
  return {at::matmul(embedding, heads_->image_projection.t()), heads_->mask_logits(map)};
}

at::Tensor ClipModel::text_features(const std::vector<std::string>& texts) {
  return at::matmul(parts_.text->encode(texts).pooled, heads_->text_projection.t());
}

void ClipModel::eval_mode() {
  parts_.image->train(false);
  parts_.text->train(false);
}

FitResult ClipModel::fit(const Dataset& data, const FitRequest& request) {
  if (!request.attributes.empty())
    throw Error("clip fit: option 'attributes' is not supported (the image is paired with its text); leave it out");
  const std::int64_t n = data.size();
  if (n < 2) throw Error("clip fit: the dataset has " + std::to_string(n) + " example(s); contrast needs at least 2");
  std::vector<at::Tensor> images;
  std::vector<std::string> texts;
  std::map<std::string, std::int64_t> group_of_text;
  std::vector<std::int64_t> groups;
  const bool masked = config_.mask_weight > 0;
  if (masked && parts_.image->map_channels() < 1)
    throw Error("clip fit: option 'mask_weight' needs an image tower with a full-resolution map (vision/resnet); "
                "set mask_weight = 0 for this tower");
  std::vector<at::Tensor> masks;  // per example [*S] uint8, with a mask loss
  for (std::int64_t i = 0; i < n; ++i) {
    Example e = data.get(i);
    if (e.text.empty())
      throw Error("clip fit: example " + std::to_string(i) + " has no text; use a dataset with a text per image "
                  "(e.g. synthetic-brain or synthetic-chest with text = \"report\")");
    if (e.image.dim() != parts_.image->spatial_dims() + 1)
      throw Error("clip fit: example " + std::to_string(i) + " is " + std::to_string(e.image.dim() - 1) +
                  "D; the vision tower takes " + std::to_string(parts_.image->spatial_dims()) + "D images");
    if (!images.empty() && e.image.sizes() != images.front().sizes())
      throw Error("clip fit: example " + std::to_string(i) + " has another size than example 0; give same-sized images");
    if (masked) {
      if (!e.mask.defined() || e.mask.sizes().slice(1) != e.image.sizes().slice(1))
        throw Error("clip fit: example " + std::to_string(i) + " has no mask of the image's size; option "
                    "'mask_weight' needs a dataset with masks (synthetic-brain, synthetic-chest), or set it to 0");
      masks.push_back(e.mask[0].to(at::kByte));
    }
    groups.push_back(group_of_text.emplace(e.text, static_cast<std::int64_t>(group_of_text.size())).first->second);
    images.push_back(e.image.to(at::kFloat));
    texts.push_back(std::move(e.text));
  }
  {
    // One standardisation of intensities for every image: HU, -ln(I/I0) and T1 scales all reach
    // the tower at zero mean and unit variance.
    at::NoGradGuard no_grad;
    const at::Tensor all = at::stack(images);
    heads_->image_mean.fill_(all.mean().item<double>());
    heads_->image_std.fill_(std::max(all.std().item<double>(), 1e-6));
  }
  if (masked) {
    // One label per mask value; each label present gets an equal share of the loss, so a lesion
    // of a few voxels is not outvoted by the background.
    at::Tensor counts = at::zeros({1}, at::kLong);
    for (const auto& m : masks) {
      const at::Tensor c = at::bincount(m.flatten().to(at::kLong));
      if (c.size(0) > counts.size(0)) counts = at::cat({counts, at::zeros({c.size(0) - counts.size(0)}, at::kLong)});
      counts.narrow(0, 0, c.size(0)).add_(c);
    }
    if (counts.size(0) < 2)
      throw Error("clip fit: every mask is empty (all 0); option 'mask_weight' needs masks that mark something");
    if (heads_->mask_classes() != counts.size(0)) {
      if (heads_->has_mask_head())
        throw Error("clip fit: the masks have " + std::to_string(counts.size(0)) + " labels, the loaded mask head " +
                    std::to_string(heads_->mask_classes()));
      heads_->make_mask_head(counts.size(0), parts_.image->map_channels());
    }
    at::NoGradGuard no_grad;
    heads_->mask_class_weights.copy_(balanced_class_weights(counts));
  }
  if (!parts_.text->frozen()) parts_.text->fit_tokenizer(texts, request.tokenizer_dir);

  TrainConfig train = request.train;
  train.config_json = config_json();
  train.data_json = data_json_ = describe_data(data);
  std::vector<std::pair<std::string, Trainable*>> trained{{"image", parts_.image.get()}, {"heads", heads_.get()}};
  if (!parts_.text->frozen()) trained.emplace_back("text", parts_.text.get());
  Trainer trainer(train, trained);
  const BatchSampler sampler(n, request.batch_size, train.accumulate, train.seed);
  const std::int64_t accumulate = train.accumulate;
  const auto batch = [&](std::int64_t step, std::int64_t micro) {
    std::vector<at::Tensor> x;
    std::vector<std::string> t;
    std::vector<std::int64_t> g;
    std::vector<at::Tensor> y;
    for (const std::int64_t index : sampler.indices(step, micro)) {
      const auto i = static_cast<std::size_t>(index);
      x.push_back(images[i]);
      t.push_back(texts[i]);
      g.push_back(groups[i]);
      if (masked) y.push_back(masks[i]);
    }
    return std::make_tuple(at::stack(x), t, at::tensor(g, at::kLong),
                           masked ? at::stack(y).to(at::kLong) : at::Tensor());
  };
  // The image features with gradients, plus mask_weight × the mask loss of the same pass (0
  // without one), recorded per step.
  std::map<std::int64_t, double> mask_losses;
  const auto image_pass = [&](std::int64_t step, const at::Tensor& x, const at::Tensor& y) {
    if (!masked) return std::make_pair(image_features(x), at::zeros({}));
    auto [features, logits] = image_features_and_masks(x);
    const at::Tensor m = mask_loss(logits, y, heads_->mask_class_weights);
    mask_losses[step] += m.item<double>() / static_cast<double>(accumulate);
    return std::make_pair(features, config_.mask_weight * m);
  };
  // The gradient cache of the step being taken (see the header).
  struct {
    std::int64_t step = -1;
    at::Tensor value, scale_grad;
    std::vector<at::Tensor> image_grads, text_grads;
  } cache;
  std::map<std::int64_t, double> temperatures;  // by step, for the curve
  auto loss = [&](std::int64_t step, std::int64_t micro, at::Generator&, std::map<std::string, double>& logs) {
    temperatures[step] = 1.0 / heads_->scale(heads_->logit_scale).item<double>();
    if (accumulate == 1) {
      auto [x, t, g, y] = batch(step, micro);
      auto [features, masks_term] = image_pass(step, x, y);
      return clip_loss(features, text_features(t), heads_->scale(heads_->logit_scale), g, &logs) + masks_term;
    }
    if (cache.step != step) {
      std::vector<at::Tensor> image_parts, text_parts, group_parts;
      {
        at::NoGradGuard no_grad;
        for (std::int64_t m = 0; m < accumulate; ++m) {
          at::manual_seed(Trainer::step_seed(train.seed, step, m));  // the randomness of m's own pass
          auto [x, t, g, y] = batch(step, m);
          image_parts.push_back(image_features(x).to(at::kFloat));
          text_parts.push_back(text_features(t).to(at::kFloat));
          group_parts.push_back(g);
        }
      }
      const at::Tensor i = at::cat(image_parts).requires_grad_(true), t = at::cat(text_parts).requires_grad_(true);
      const at::Tensor log_scale = heads_->logit_scale.detach().clone().requires_grad_(true);
      const at::Tensor full = clip_loss(i, t, heads_->scale(log_scale), at::cat(group_parts), &logs);
      full.backward();
      cache.step = step;
      cache.value = full.detach();
      cache.scale_grad = log_scale.grad().clone();
      cache.image_grads.clear();
      cache.text_grads.clear();
      std::int64_t offset = 0;
      for (const auto& part : image_parts) {
        cache.image_grads.push_back(i.grad().narrow(0, offset, part.size(0)).clone());
        cache.text_grads.push_back(t.grad().narrow(0, offset, part.size(0)).clone());
        offset += part.size(0);
      }
      at::manual_seed(Trainer::step_seed(train.seed, step, micro));
    }
    auto [x, t, g, y] = batch(step, micro);
    const auto m = static_cast<std::size_t>(micro);
    auto [features, masks_term] = image_pass(step, x, y);
    at::Tensor surrogate = (features.to(at::kFloat) * cache.image_grads[m]).sum() +
                           (text_features(t).to(at::kFloat) * cache.text_grads[m]).sum();
    if (micro == 0) surrogate = surrogate + heads_->logit_scale * cache.scale_grad;
    // The trainer divides by `accumulate` and sums the micro-batches: the value is the full
    // batch's loss, the gradient that of the cached embeddings'. The mask loss is per example,
    // so each micro-batch adds its own.
    return cache.value + static_cast<double>(accumulate) * (surrogate - surrogate.detach()) + masks_term;
  };
  FitResult result;
  result.train = trainer.fit(loss);
  for (const auto& [step, t] : temperatures) result.logs["temperature"].push_back(t);
  for (const auto& [step, m] : mask_losses) result.logs["mask_loss"].push_back(m);
  trainer.use_ema(true);  // embed with the averaged weights
  return result;
}

at::Tensor ClipModel::over_images(const std::string& who, const at::Tensor& x,
                                  const std::function<at::Tensor(const at::Tensor&)>& run) {
  if (x.dim() != parts_.image->spatial_dims() + 2)
    throw Error(who + ": images must be [N, C, " + std::string(parts_.image->spatial_dims() == 3 ? "D, " : "") +
                "H, W], got " + std::to_string(x.dim()) + " dimensions");
  at::NoGradGuard no_grad;
  eval_mode();
  std::vector<at::Tensor> out;
  for (std::int64_t s = 0; s < x.size(0); s += kEmbedBatch) {
    AutocastGuard autocast(config_.bf16);
    out.push_back(run(x.narrow(0, s, std::min(kEmbedBatch, x.size(0) - s)).to(at::kFloat)));
  }
  return at::cat(out);
}

at::Tensor ClipModel::embed_images(const at::Tensor& x) {
  const at::Tensor e = over_images("clip embed", x, [&](const at::Tensor& chunk) {
    return image_features(chunk).to(at::kFloat);
  });
  return e / e.norm(2, 1, true).clamp_min(1e-12);
}

at::Tensor ClipModel::embed_texts(const std::vector<std::string>& texts) {
  if (texts.empty()) throw Error("clip embed: give at least one text");
  at::NoGradGuard no_grad;
  eval_mode();
  std::vector<at::Tensor> out;
  for (std::size_t s = 0; s < texts.size(); s += kEmbedBatch) {
    const std::vector<std::string> chunk(texts.begin() + static_cast<std::ptrdiff_t>(s),
                                         texts.begin() + static_cast<std::ptrdiff_t>(std::min(texts.size(), s + kEmbedBatch)));
    AutocastGuard autocast(config_.bf16);
    out.push_back(text_features(chunk).to(at::kFloat));
  }
  const at::Tensor e = at::cat(out);
  return e / e.norm(2, 1, true).clamp_min(1e-12);
}

at::Tensor ClipModel::segment(const at::Tensor& x) {
  if (!heads_->has_mask_head())
    throw Error("clip segment: this model has no mask head; fit it with mask_weight > 0 on a dataset with masks");
  return over_images("clip segment", x, [&](const at::Tensor& chunk) {
    return image_features_and_masks(chunk).second.argmax(1);
  });
}

std::shared_ptr<TextEncoder> ClipModel::text_encoder(bool frozen) { return clip_text_tower(parts_.text, frozen); }

Generation ClipModel::generate(const GenerateRequest&) {
  throw Error("clip: a contrastive image–text model writes no images; use clip:embed, or its text tower in "
              "another model");
}

Pair ClipModel::counterfactual(const CounterfactualRequest&) {
  throw Error("clip: a contrastive image–text model makes no counterfactuals; use clip:embed to score them");
}

void ClipModel::state(NamedTensors& params, NamedTensors& buffers) const {
  const auto add = [&](const std::string& prefix, Trainable& part) {
    for (auto& [name, p] : part.named_parameters()) params.emplace_back(prefix + "." + name, p);
    for (auto& [name, b] : part.named_buffers()) buffers.emplace_back(prefix + "." + name, b);
  };
  add("image", *parts_.image);
  add("text", *parts_.text);
  add("heads", *heads_);
}

void ClipModel::save(const std::string& path) const {
  Checkpoint c;
  state(c.groups["params"], c.groups["buffers"]);
  c.strings["config"] = config_json();
  c.strings["format"] = kClipFormat;
  c.strings["data"] = data_json_;
  write_checkpoint(path, c);
}

void ClipModel::load(const std::string& path) {
  const Checkpoint c = read_checkpoint(path);
  if (!c.strings.count("format") || c.strings.at("format") != kClipFormat)
    throw Error(path + ": not a whatif clip model (save one with clip:save)");
  const auto group = [&](const std::string& g) {
    const auto it = c.groups.find(g);
    return it == c.groups.end() ? NamedTensors{} : it->second;
  };
  // A model saved with a mask head: make the head of its shape before restoring it.
  for (const auto& [name, tensor] : group("params"))
    if (name == "heads.mask_projection" && heads_->mask_classes() != (tensor.dim() == 2 ? tensor.size(0) : -1)) {
      if (tensor.dim() != 2 || tensor.size(1) != parts_.image->map_channels())
        throw Error(path + ": its mask head reads " + (tensor.dim() == 2 ? std::to_string(tensor.size(1)) : "?") +
                    " map channels, but this image tower gives " + std::to_string(parts_.image->map_channels()) +
                    "; build the towers the model was saved with");
      heads_->make_mask_head(tensor.size(0), tensor.size(1));
    }
  NamedTensors params, buffers;
  state(params, buffers);
  restore_tensors(group("params"), params, false, path);
  restore_tensors(group("buffers"), buffers, true, path);
  if (c.strings.count("data")) data_json_ = c.strings.at("data");
}

}  // namespace whatif

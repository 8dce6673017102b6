#include "clip/clip_model.hpp"

#include <cmath>
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

constexpr const char* kFormat = "whatif-clip-1";
constexpr std::int64_t kEmbedBatch = 16;

}  // namespace

// The projections into the joint space, the temperature, and the image intensity standardisation
// fitted on the training images (a buffer: checkpoints keep it).
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
    return {{"image_projection", image_projection}, {"text_projection", text_projection},
            {"logit_scale", logit_scale}};
  }
  NamedTensors named_buffers() override { return {{"image_mean", image_mean}, {"image_std", image_std}}; }
  void train(bool) override {}
  void to(const c10::Device& device) override {
    at::NoGradGuard no_grad;
    for (auto* t : {&image_projection, &text_projection, &logit_scale, &image_mean, &image_std})
      t->set_data(t->to(device));
  }
  at::Tensor scale(const at::Tensor& log_scale) const { return log_scale.clamp_max(max_log_scale).exp(); }

  at::Tensor image_projection, text_projection, logit_scale, image_mean, image_std;
  double max_log_scale = 0;
};

const Fields<ClipConfig>& ClipConfig::fields() {
  using C = ClipConfig;
  static const Fields<C> fields = Fields<C>()
      .add("embed_dim", &C::embed_dim, "width of the joint image–text space")
      .add("temperature", &C::temperature, "initial softmax temperature τ (learned from there)")
      .add("max_logit_scale", &C::max_logit_scale, "1/τ is clamped at this")
      .add("bf16", &C::bf16, "embed under bf16 autocast");
  return fields;
}

void ClipConfig::check() const {
  if (embed_dim < 1) throw Error("option 'embed_dim' must be ≥ 1");
  if (!(temperature > 0 && temperature < 10)) throw Error("option 'temperature' must be in (0, 10)");
  if (!(max_logit_scale >= 1 / temperature))
    throw Error("option 'max_logit_scale' must be ≥ 1 / temperature (" + std::to_string(1 / temperature) + ")");
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
  const at::Tensor standard = (x - heads_->image_mean) / heads_->image_std;
  return at::matmul(parts_.image->embed(standard), heads_->image_projection.t());
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
    for (const std::int64_t index : sampler.indices(step, micro)) {
      const auto i = static_cast<std::size_t>(index);
      x.push_back(images[i]);
      t.push_back(texts[i]);
      g.push_back(groups[i]);
    }
    return std::make_tuple(at::stack(x), t, at::tensor(g, at::kLong));
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
      auto [x, t, g] = batch(step, micro);
      return clip_loss(image_features(x), text_features(t), heads_->scale(heads_->logit_scale), g, &logs);
    }
    if (cache.step != step) {
      std::vector<at::Tensor> image_parts, text_parts, group_parts;
      {
        at::NoGradGuard no_grad;
        for (std::int64_t m = 0; m < accumulate; ++m) {
          at::manual_seed(Trainer::step_seed(train.seed, step, m));  // the randomness of m's own pass
          auto [x, t, g] = batch(step, m);
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
    auto [x, t, g] = batch(step, micro);
    const auto m = static_cast<std::size_t>(micro);
    at::Tensor surrogate = (image_features(x).to(at::kFloat) * cache.image_grads[m]).sum() +
                           (text_features(t).to(at::kFloat) * cache.text_grads[m]).sum();
    if (micro == 0) surrogate = surrogate + heads_->logit_scale * cache.scale_grad;
    // The trainer divides by `accumulate` and sums the micro-batches: the value is the full
    // batch's loss, the gradient that of the cached embeddings'.
    return cache.value + static_cast<double>(accumulate) * (surrogate - surrogate.detach());
  };
  FitResult result;
  result.train = trainer.fit(loss);
  for (const auto& [step, t] : temperatures) result.logs["temperature"].push_back(t);
  trainer.use_ema(true);  // embed with the averaged weights
  return result;
}

at::Tensor ClipModel::embed_images(const at::Tensor& x) {
  if (x.dim() != parts_.image->spatial_dims() + 2)
    throw Error("clip embed: images must be [N, C, " + std::string(parts_.image->spatial_dims() == 3 ? "D, " : "") +
                "H, W], got " + std::to_string(x.dim()) + " dimensions");
  at::NoGradGuard no_grad;
  eval_mode();
  std::vector<at::Tensor> out;
  for (std::int64_t s = 0; s < x.size(0); s += kEmbedBatch) {
    AutocastGuard autocast(config_.bf16);
    out.push_back(image_features(x.narrow(0, s, std::min(kEmbedBatch, x.size(0) - s)).to(at::kFloat)).to(at::kFloat));
  }
  const at::Tensor e = at::cat(out);
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
  c.strings["format"] = kFormat;
  c.strings["data"] = data_json_;
  write_checkpoint(path, c);
}

void ClipModel::load(const std::string& path) {
  const Checkpoint c = read_checkpoint(path);
  if (!c.strings.count("format") || c.strings.at("format") != kFormat)
    throw Error(path + ": not a whatif clip model (save one with clip:save)");
  NamedTensors params, buffers;
  state(params, buffers);
  const auto group = [&](const std::string& g) {
    const auto it = c.groups.find(g);
    return it == c.groups.end() ? NamedTensors{} : it->second;
  };
  restore_tensors(group("params"), params, false, path);
  restore_tensors(group("buffers"), buffers, true, path);
  if (c.strings.count("data")) data_json_ = c.strings.at("data");
}

}  // namespace whatif

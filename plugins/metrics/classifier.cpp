#include "classifier.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <sstream>

#include <torch/torch.h>

#include <whatif/batch_sampler.hpp>
#include <whatif/registry/error.hpp>
#include <whatif/trainer.hpp>

namespace whatif_metrics {

namespace {

// A torch module as the trainer sees a learned part.
class TrainableModule : public whatif::Trainable {
 public:
  explicit TrainableModule(torch::nn::Module& module) : module_(module) {}
  whatif::NamedTensors named_parameters() override {
    whatif::NamedTensors out;
    for (const auto& p : module_.named_parameters()) out.emplace_back(p.key(), p.value());
    return out;
  }
  void train(bool on) override { module_.train(on); }
  void to(const c10::Device& device) override { module_.to(device); }

 private:
  torch::nn::Module& module_;
};

torch::nn::AnyModule conv(int dims, std::int64_t in, std::int64_t out, std::int64_t stride) {
  if (dims == 3)
    return torch::nn::AnyModule(torch::nn::Conv3d(torch::nn::Conv3dOptions(in, out, 3).stride(stride).padding(1)));
  return torch::nn::AnyModule(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1)));
}

std::string join(const std::vector<double>& values) {
  std::ostringstream out;
  for (std::size_t i = 0; i < values.size(); ++i) out << (i ? ", " : "") << values[i];
  return out.str();
}

}  // namespace

Split split_by_subject(const whatif::Dataset& data) {
  std::vector<std::string> subject(static_cast<std::size_t>(data.size()));
  std::set<std::string> ids;
  for (std::int64_t i = 0; i < data.size(); ++i) {
    subject[static_cast<std::size_t>(i)] = data.get(i).subject;
    ids.insert(subject[static_cast<std::size_t>(i)]);
  }
  if (ids.size() < 2)
    throw whatif::Error("the classifier needs examples of at least 2 subjects (one is held out), got " +
                        std::to_string(ids.size()));
  const std::vector<std::string> sorted(ids.begin(), ids.end());
  const std::size_t s = sorted.size();
  const std::size_t held = std::max<std::size_t>(1, (s + 4) / 5);
  std::set<std::string> heldout;
  for (std::size_t j = 0; j < held; ++j) heldout.insert(sorted[(2 * j + 1) * s / (2 * held)]);
  Split split;
  for (std::int64_t i = 0; i < data.size(); ++i)
    (heldout.count(subject[static_cast<std::size_t>(i)]) ? split.heldout : split.train).push_back(i);
  return split;
}

AttributeClassifier::AttributeClassifier(ClassifierOptions options) : options_(std::move(options)) {
  if (options_.steps < 1 || options_.batch < 1 || options_.width < 1 || !(options_.lr > 0))
    throw whatif::Error("classifier: steps, batch, width and lr must be positive");
  if (options_.pooling != "mean" && options_.pooling != "max")
    throw whatif::Error("classifier: option 'pooling' must be mean or max, got '" + options_.pooling + "'");
}

double AttributeClassifier::fit(const whatif::Dataset& data, std::uint64_t seed) {
  const auto names = data.attribute_names();
  if (std::find(names.begin(), names.end(), options_.attribute) == names.end())
    throw whatif::Error("classifier: the dataset has no attribute '" + options_.attribute +
                        "' (it has: " + [&] {
                          std::string s;
                          for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
                          return s;
                        }() + ")");
  const Split split = split_by_subject(data);
  std::vector<at::Tensor> images;
  std::vector<double> values;
  for (std::int64_t i = 0; i < data.size(); ++i) {
    const whatif::Example e = data.get(i);
    const auto it = e.attributes.find(options_.attribute);
    if (it == e.attributes.end() || std::isnan(it->second))
      throw whatif::Error("classifier: example " + std::to_string(i) + " has no '" + options_.attribute + "'");
    images.push_back(e.image.to(at::kFloat));
    values.push_back(it->second);
  }
  const at::Tensor all = at::stack(images);
  train(all, values, split.train, seed);
  const at::Tensor labels = class_index(at::tensor(values, at::kDouble));
  const at::Tensor held = at::tensor(split.heldout, at::kLong);
  return predict(all.index_select(0, held)).eq(labels.index_select(0, held)).to(at::kDouble).mean().item<double>();
}

void AttributeClassifier::fit(const at::Tensor& images, const std::vector<double>& values, std::uint64_t seed) {
  if (images.dim() < 1 || images.size(0) != static_cast<std::int64_t>(values.size()))
    throw whatif::Error("classifier: " + std::to_string(values.size()) + " values for " +
                        std::to_string(images.dim() ? images.size(0) : 0) + " volumes");
  std::vector<std::int64_t> rows(values.size());
  std::iota(rows.begin(), rows.end(), 0);
  train(images.to(at::kFloat), values, rows, seed);
}

void AttributeClassifier::train(const at::Tensor& images, const std::vector<double>& values,
                                const std::vector<std::int64_t>& train, std::uint64_t seed) {
  classes_ = values;
  std::sort(classes_.begin(), classes_.end());
  classes_.erase(std::unique(classes_.begin(), classes_.end()), classes_.end());
  if (classes_.size() < 2)
    throw whatif::Error("classifier: '" + options_.attribute + "' takes one value only (" + join(classes_) + ")");
  shape_.assign(images.sizes().begin() + 1, images.sizes().end());
  const int dims = static_cast<int>(shape_.size()) - 1;
  if (dims != 2 && dims != 3) throw whatif::Error("classifier: images must be [C, H, W] or [C, D, H, W]");

  torch::manual_seed(seed);  // initial weights
  const std::int64_t w = options_.width;
  body_ = torch::nn::Sequential();
  const std::int64_t widths[] = {shape_[0], w, 2 * w, 4 * w};
  for (int level = 0; level < 3; ++level) {
    body_->push_back(conv(dims, widths[level], widths[level + 1], 2));
    body_->push_back(torch::nn::SiLU());
  }
  body_->push_back(conv(dims, 4 * w, 4 * w, 1));
  body_->push_back(torch::nn::SiLU());
  if (options_.pooling == "max")
    body_->push_back(torch::nn::Functional([](const at::Tensor& h) { return h.flatten(2).amax(2); }));
  else
    body_->push_back(torch::nn::Functional([](const at::Tensor& h) { return h.flatten(2).mean(2); }));
  body_->push_back(torch::nn::Linear(4 * w, 64));
  body_->push_back(torch::nn::SiLU());
  head_ = torch::nn::Linear(64, static_cast<std::int64_t>(classes_.size()));

  const at::Tensor labels = class_index(at::tensor(values, at::kDouble));
  const at::Tensor train_index = at::tensor(train, at::kLong);
  // Trained by the one training loop: AdamW at a constant rate (no warmup, no decay of the rate),
  // weight decay 1e-4 on the kernels, no clipping, no EMA; batches from the batch sampler.
  whatif::TrainConfig config;
  config.steps = options_.steps;
  config.lr = options_.lr;
  config.warmup = 0;
  config.min_lr_ratio = 1.0;
  config.weight_decay = 1e-4;
  config.grad_clip = 0.0;
  config.ema_decay = 0.0;
  config.seed = seed ^ 0x5eedc1a55ULL;
  config.label = "classifier";
  TrainableModule body(*body_), head(*head_);
  whatif::Trainer trainer(config, {{"body", &body}, {"head", &head}});
  const whatif::BatchSampler sampler(train_index.size(0), options_.batch, 1, config.seed);
  trainer.fit([&](std::int64_t step, std::int64_t micro, at::Generator&, std::map<std::string, double>&) {
    const auto rows = sampler.indices(step, micro);
    const at::Tensor pick = train_index.index_select(0, at::tensor(rows, at::kLong));
    return at::cross_entropy_loss(logits(images.index_select(0, pick)), labels.index_select(0, pick));
  });
  body_->train(false);
}

at::Tensor AttributeClassifier::class_index(const at::Tensor& values) const {
  const at::Tensor v = values.to(at::kDouble).contiguous();
  at::Tensor out = at::empty({v.numel()}, at::kLong);
  const double* in = v.data_ptr<double>();
  for (std::int64_t i = 0; i < v.numel(); ++i) {
    const auto it = std::find_if(classes_.begin(), classes_.end(),
                                 [&](double c) { return std::abs(c - in[i]) < 1e-9; });
    if (it == classes_.end())
      throw whatif::Error("'" + options_.attribute + "' = " + std::to_string(in[i]) +
                          " is not a class the classifier was trained on (" + join(classes_) + ")");
    out[i] = static_cast<std::int64_t>(it - classes_.begin());
  }
  return out;
}

void AttributeClassifier::check_input(const at::Tensor& x) const {
  if (!fitted()) throw whatif::Error("the attribute classifier is not trained: call fit(dataset) first");
  const std::vector<std::int64_t> s(x.sizes().begin() + 1, x.sizes().end());
  if (x.dim() < 1 || s != shape_) {
    std::ostringstream out;
    out << "classifier: volumes of shape " << x.sizes() << " do not match the training volumes " << at::IntArrayRef(shape_)
        << " (per example)";
    throw whatif::Error(out.str());
  }
}

at::Tensor AttributeClassifier::logits(const at::Tensor& x) { return head_(body_->forward(x)); }

at::Tensor AttributeClassifier::predict(const at::Tensor& x) {
  check_input(x);
  at::NoGradGuard no_grad;
  return logits(x.to(at::kFloat)).argmax(1);
}

at::Tensor AttributeClassifier::probabilities(const at::Tensor& x) {
  check_input(x);
  at::NoGradGuard no_grad;
  return at::softmax(logits(x.to(at::kFloat)).to(at::kDouble), 1);
}

at::Tensor AttributeClassifier::features(const at::Tensor& x) {
  check_input(x);
  at::NoGradGuard no_grad;
  return body_->forward(x.to(at::kFloat)).to(at::kDouble);
}

}  // namespace whatif_metrics

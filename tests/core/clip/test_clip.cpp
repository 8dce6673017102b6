// Contrastive pretraining: retrieval Recall@k, zero-shot scores and ROC AUC against hand-worked
// values; the loss against torch's cross-entropy; the gradient cache against one big batch; and a
// toy set where the towers must learn which text goes with which image.
#include <catch2/catch.hpp>

#include <filesystem>

#include <unistd.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "clip/clip_model.hpp"
#include "clip/retrieval.hpp"
#include "support/plugins.hpp"
#include "whatif/registry/error.hpp"

using whatif::test::make;

namespace {

WHATIF_TEST_PLUGINS("vision", "text");

const char* kPlaces[] = {"a lesion in the upper left", "a lesion in the upper right", "a lesion in the lower left",
                         "a lesion in the lower right"};

// 16² images, each with a bright 4×4 square in one quadrant at a random place inside it, the
// text naming the quadrant, and the square as the mask (label 1); noise everywhere.
class Quadrants : public whatif::Dataset {
 public:
  Quadrants(std::int64_t n, std::uint64_t seed) : n_(n), seed_(seed) {}
  std::int64_t size() const override { return n_; }
  whatif::Example get(std::int64_t i) const override {
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed_ * 1000 + static_cast<std::uint64_t>(i));
    const std::int64_t quadrant = i % 4;
    const at::Tensor jitter = at::randint(0, 5, {2}, g, at::kLong);
    whatif::Example e;
    e.image = 0.1 * at::randn({1, 16, 16}, g);
    const std::int64_t y = (quadrant / 2) * 8 + jitter[0].item<std::int64_t>();
    const std::int64_t x = (quadrant % 2) * 8 + jitter[1].item<std::int64_t>();
    e.image.narrow(1, y, 4).narrow(2, x, 4).add_(1.0);
    e.mask = at::zeros({1, 16, 16}, at::kByte);
    e.mask.narrow(1, y, 4).narrow(2, x, 4).fill_(1);
    e.text = kPlaces[quadrant];
    e.subject = std::to_string(i);
    return e;
  }
  std::vector<std::string> attribute_names() const override { return {}; }

 private:
  std::int64_t n_;
  std::uint64_t seed_;
};

std::shared_ptr<whatif::ClipModel> clip_model(double mask_weight = 0, const char* tower = "resnet") {
  whatif::ClipParts p;
  p.image = std::string(tower) == "resnet"
                ? make<whatif::VisionEncoder>("vision", "resnet", {"spatial_dims=2", "channels=8,16", "groups=4", "width=32"})
                : make<whatif::VisionEncoder>("vision", tower, {"spatial_dims=2", "patch=4", "hidden=16", "heads=2",
                                                                "layers=1", "width=32"});
  p.text = make<whatif::TextEncoder>("text", "transformer",
                                     {"vocab_size=40", "max_length=12", "width=16", "layers=1", "heads=2",
                                      "pooling=eos"});
  whatif::ClipConfig c;
  c.embed_dim = 16;
  c.mask_weight = mask_weight;
  return std::make_shared<whatif::ClipModel>(p, c);
}

whatif::FitRequest request(std::int64_t steps, std::int64_t batch, std::int64_t accumulate) {
  whatif::FitRequest r;
  r.batch_size = batch;
  r.train.steps = steps;
  r.train.accumulate = accumulate;
  r.train.lr = 3e-3;
  r.train.warmup = 10;
  r.train.ema_decay = 0;
  r.train.seed = 5;
  return r;
}

std::vector<std::string> labels_of(const whatif::Dataset& d) {
  std::vector<std::string> out;
  for (std::int64_t i = 0; i < d.size(); ++i) out.push_back(d.get(i).text);
  return out;
}

at::Tensor images_of(const whatif::Dataset& d) {
  std::vector<at::Tensor> out;
  for (std::int64_t i = 0; i < d.size(); ++i) out.push_back(d.get(i).image);
  return at::stack(out);
}

}  // namespace

CATCH_TEST_CASE("retrieval recall counts a hit when a top-k item has the query's label", "[clip]") {
  const at::Tensor eye = at::eye(4);
  // Texts shifted by one: query i's best text is i + 1's, its own comes second.
  const at::Tensor shifted = at::roll(eye, 1, 0);
  auto r = whatif::retrieval_recall(eye, eye, {}, {1, 2});
  CATCH_CHECK(r.at("image_to_text_r1") == 1.0);
  CATCH_CHECK(r.at("text_to_image_r1") == 1.0);
  CATCH_CHECK(r.at("chance_r1") == Approx(0.25));
  CATCH_CHECK(r.at("chance_r2") == Approx(0.5));
  // similarity[i][j] = 1 when text j is example i−1's: image i finds text i+1 first.
  const at::Tensor mixed = 0.9 * shifted + 0.5 * eye;
  r = whatif::retrieval_recall(eye, mixed, {}, {1, 2});
  CATCH_CHECK(r.at("image_to_text_r1") == 0.0);
  CATCH_CHECK(r.at("image_to_text_r2") == 1.0);
  // Examples 0 and 1 share a label: image 0 retrieving text 1 is a hit, so 2 of 4 images hit at k = 1.
  r = whatif::retrieval_recall(eye, mixed, {"a", "a", "b", "c"}, {1});
  CATCH_CHECK(r.at("image_to_text_r1") == 0.25);
  // Chance with a pair of twins: for 0 and 1, 1 − (2/4) = 1/2 at k = 1; for 2 and 3, 1/4.
  CATCH_CHECK(r.at("chance_r1") == Approx((0.5 + 0.5 + 0.25 + 0.25) / 4));
  CATCH_CHECK_THROWS_WITH(whatif::retrieval_recall(eye, eye, {"a"}, {1}), Catch::Contains("one label per example"));
}

CATCH_TEST_CASE("zero-shot scores average and renormalise each prompt ensemble", "[clip]") {
  const at::Tensor images = at::tensor({1.0f, 0.0f, 0.0f, 1.0f}).view({2, 2});
  const at::Tensor positive = at::tensor({1.0f, 0.0f, 0.6f, 0.8f}).view({2, 2});
  const at::Tensor negative = at::tensor({0.0f, 1.0f}).view({1, 2});
  const at::Tensor s = whatif::zero_shot_scores(images, positive, negative);
  // mean (0.8, 0.4) → (2, 1)/√5.
  CATCH_CHECK(s[0].item<double>() == Approx(2 / std::sqrt(5.0)));
  CATCH_CHECK(s[1].item<double>() == Approx(1 / std::sqrt(5.0) - 1));
}

CATCH_TEST_CASE("CLIPScore is 100 times the pair's cosine, clamped at zero", "[clip]") {
  const at::Tensor images = at::tensor({1.0f, 0.0f, 0.6f, 0.8f, 1.0f, 0.0f}).view({3, 2});
  const at::Tensor texts = at::tensor({0.6f, 0.8f, 0.6f, 0.8f, -1.0f, 0.0f}).view({3, 2});
  const at::Tensor s = whatif::clip_scores(images, texts);
  CATCH_CHECK(s[0].item<double>() == Approx(60.0));
  CATCH_CHECK(s[1].item<double>() == Approx(100.0));
  CATCH_CHECK(s[2].item<double>() == 0.0);
  CATCH_CHECK_THROWS_WITH(whatif::clip_scores(images, texts.narrow(0, 0, 2)), Catch::Contains("same shape"));
}

CATCH_TEST_CASE("ROC AUC is the Mann-Whitney statistic, ties counting one half", "[clip]") {
  CATCH_CHECK(whatif::data::roc_auc({0.1, 0.4, 0.35, 0.8}, {false, false, true, true}) == Approx(0.75));
  CATCH_CHECK(whatif::data::roc_auc({1, 1, 0}, {true, false, false}) == Approx(0.75));
  CATCH_CHECK(whatif::data::roc_auc({3, 2, 1}, {true, true, false}) == 1.0);
  CATCH_CHECK_THROWS_WITH(whatif::data::roc_auc({1, 2}, {true, true}), Catch::Contains("both classes"));
}

CATCH_TEST_CASE("the contrastive loss is CLIP's cross-entropy, with equal texts as shared positives", "[clip]") {
  at::manual_seed(3);
  const at::Tensor i = at::randn({5, 4}), t = at::randn({5, 4});
  const at::Tensor scale = at::full({}, 7.0);
  const at::Tensor distinct = at::arange(5, at::kLong);
  namespace F = torch::nn::functional;
  const at::Tensor logits = 7.0 * at::matmul(F::normalize(i, F::NormalizeFuncOptions().dim(1)),
                                             F::normalize(t, F::NormalizeFuncOptions().dim(1)).t());
  const double reference = ((F::cross_entropy(logits, distinct) + F::cross_entropy(logits.t(), distinct)) / 2).item<double>();
  CATCH_CHECK(whatif::clip_loss(i, t, scale, distinct).item<double>() == Approx(reference).epsilon(1e-5));
  // Examples 0 and 1 share a text: row 0's target is (½, ½, 0, 0, 0).
  const at::Tensor groups = at::tensor({0, 0, 1, 2, 3}, at::kLong);
  at::Tensor target = at::eye(5);
  target.index_put_({0, 1}, 1.0);
  target.index_put_({1, 0}, 1.0);
  target = target / target.sum(1, true);
  const auto soft = [&](const at::Tensor& l) { return -(target * at::log_softmax(l, 1)).sum(1).mean(); };
  const double shared = ((soft(logits) + soft(logits.t())) / 2).item<double>();
  CATCH_CHECK(whatif::clip_loss(i, t, scale, groups).item<double>() == Approx(shared).epsilon(1e-5));
}

CATCH_TEST_CASE("accumulated micro-batches train as one batch: every negative is kept", "[clip]") {
  // Also with the mask loss, which is per example and so adds each micro-batch's own share.
  for (const double mask_weight : {0.0, 1.0}) {
  CATCH_CAPTURE(mask_weight);
  const Quadrants data(16, 1);
  const at::Tensor images = images_of(data);
  const auto dir = std::filesystem::temp_directory_path();
  const auto initial = (dir / ("whatif-clip-init-" + std::to_string(::getpid()) + ".h5")).string();
  // Two models with the same starting weights (a zero-step fit sets the tokenizer and the
  // intensity scale).
  auto whole = clip_model(mask_weight), split = clip_model(mask_weight);
  whole->fit(data, request(0, 8, 1));
  whole->save(initial);
  split->fit(data, request(0, 8, 1));
  split->load(initial);
  const at::Tensor start = whole->embed_images(images);
  // One step on a batch of 8, and on the same 8 examples as 2 micro-batches of 4 (BatchSampler
  // order). An Adam epsilon far above the gradients makes the step proportional to the gradient,
  // so the comparison sees the gradient itself rather than its sign.
  const auto step = [&](whatif::ClipModel& model, std::int64_t batch, std::int64_t accumulate) {
    auto r = request(1, batch, accumulate);
    r.train.eps = 1.0;
    r.train.warmup = 0;
    r.train.grad_clip = 0;
    return model.fit(data, r).train.losses.at(0);
  };
  const double a = step(*whole, 8, 1), b = step(*split, 4, 2);
  std::filesystem::remove(initial);
  CATCH_CHECK(b == Approx(a).epsilon(1e-5));  // the loss of all 8, not the mean of two 4s
  const at::Tensor ew = whole->embed_images(images), es = split->embed_images(images);
  const double moved = (ew - start).abs().max().item<double>();
  CATCH_CHECK(moved > 1e-4);
  CATCH_CHECK((ew - es).abs().max().item<double>() < 1e-3 * moved);
  }
}

CATCH_TEST_CASE("a toy set's towers learn which text goes with which image", "[clip]") {
  const Quadrants train(64, 1), held(32, 2);
  auto model = clip_model();
  const auto fitted = model->fit(train, request(150, 16, 1));
  CATCH_CHECK(fitted.train.losses.back() < fitted.train.losses.front());
  const at::Tensor images = model->embed_images(images_of(held));
  const at::Tensor texts = model->embed_texts(labels_of(held));
  CATCH_CHECK(images.norm(2, 1).sub(1).abs().max().item<double>() < 1e-5);
  const auto r = whatif::retrieval_recall(images, texts, labels_of(held), {1});
  // Four texts: chance is 1/4. Measured 1.00 both ways.
  CATCH_CHECK(r.at("chance_r1") == Approx(0.25));
  CATCH_CHECK(r.at("image_to_text_r1") >= 0.9);
  CATCH_CHECK(r.at("text_to_image_r1") >= 0.9);
  // Zero-shot "left" against "right" from prompt ensembles.
  const at::Tensor left = model->embed_texts({kPlaces[0], kPlaces[2]}), right = model->embed_texts({kPlaces[1], kPlaces[3]});
  const at::Tensor scores = whatif::zero_shot_scores(images, left, right);
  std::vector<double> s;
  std::vector<bool> is_left;
  for (std::int64_t i = 0; i < held.size(); ++i) {
    s.push_back(scores[i].item<double>());
    is_left.push_back(i % 2 == 0);
  }
  CATCH_CHECK(whatif::data::roc_auc(s, is_left) >= 0.9);
  CATCH_CHECK(model->temperature() > 0);
  CATCH_CHECK_THROWS_WITH(model->generate({}), Catch::Contains("writes no images"));
}

CATCH_TEST_CASE("the mask loss is class-balanced cross-entropy", "[clip]") {
  // Counts 90 / 10: each present label gets half of the loss; an absent label weighs nothing.
  const at::Tensor w = whatif::balanced_class_weights(at::tensor({90, 10, 0}, at::kLong));
  CATCH_CHECK(w[0].item<double>() == Approx(100.0 / (2 * 90)));
  CATCH_CHECK(w[1].item<double>() == Approx(100.0 / (2 * 10)));
  CATCH_CHECK(w[2].item<double>() == 0.0);
  // Against the sum written out: Σ w[y] · (−log softmax[y]) / Σ w[y].
  at::manual_seed(6);
  const at::Tensor logits = at::randn({2, 3, 4, 5}), labels = at::randint(0, 2, {2, 4, 5}, at::kLong);
  const at::Tensor nll = -at::log_softmax(logits, 1).gather(1, labels.unsqueeze(1)).squeeze(1);
  const at::Tensor per = w.index({labels});
  const double expected = ((per * nll).sum() / per.sum()).item<double>();
  CATCH_CHECK(whatif::mask_loss(logits, labels, w).item<double>() == Approx(expected).epsilon(1e-5));
}

CATCH_TEST_CASE("with a mask loss the image tower learns where the finding is", "[clip]") {
  const Quadrants train(64, 1), held(32, 2);
  auto model = clip_model(1.0);
  const auto fitted = model->fit(train, request(150, 16, 1));
  const auto& curve = fitted.logs.at("mask_loss");
  CATCH_REQUIRE(curve.size() == 150);
  CATCH_CHECK(curve.back() < 0.5 * curve.front());
  // Held-out Dice of the predicted square against the true one. Measured 0.98.
  std::vector<at::Tensor> truth;
  for (std::int64_t i = 0; i < held.size(); ++i) truth.push_back(held.get(i).mask[0]);
  const at::Tensor predicted = model->segment(images_of(held)) == 1, mask = at::stack(truth) == 1;
  const double dice = 2.0 * (predicted & mask).sum().item<double>() /
                      (predicted.sum().item<double>() + mask.sum().item<double>());
  CATCH_CHECK(dice >= 0.9);
  // Retrieval still works beside it. Measured 1.00.
  const auto r = whatif::retrieval_recall(model->embed_images(images_of(held)), model->embed_texts(labels_of(held)),
                                          labels_of(held), {1});
  CATCH_CHECK(r.at("image_to_text_r1") >= 0.9);
  // The head is saved and loaded with the model.
  const auto path = (std::filesystem::temp_directory_path() / ("whatif-clip-mask-" + std::to_string(::getpid()) + ".h5")).string();
  model->save(path);
  auto copy = clip_model(0.0);
  copy->load(path);
  std::filesystem::remove(path);
  CATCH_CHECK(at::equal(copy->segment(images_of(held)), model->segment(images_of(held))));
  CATCH_CHECK_THROWS_WITH(clip_model()->segment(images_of(held)), Catch::Contains("has no mask head"));
}

CATCH_TEST_CASE("a mask loss needs a tower with a map and masks that mark something", "[clip]") {
  const Quadrants data(8, 1);
  CATCH_CHECK_THROWS_WITH(clip_model(1.0, "vit")->fit(data, request(1, 4, 1)),
                          Catch::Contains("needs an image tower with a full-resolution map"));
  class Unmasked : public Quadrants {
   public:
    using Quadrants::Quadrants;
    whatif::Example get(std::int64_t i) const override {
      auto e = Quadrants::get(i);
      e.mask = at::Tensor();
      return e;
    }
  };
  CATCH_CHECK_THROWS_WITH(clip_model(1.0)->fit(Unmasked(8, 1), request(1, 4, 1)),
                          Catch::Contains("example 0 has no mask of the image's size"));
  CATCH_CHECK_THROWS_WITH(clip_model(-1.0), Catch::Contains("'mask_weight' must be a number"));
}

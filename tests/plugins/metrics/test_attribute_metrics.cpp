#include <catch2/catch.hpp>
#include <cmath>
#include <set>

#include <ATen/ATen.h>

#include "metrics/classifier.hpp"
#include "support/error_of.hpp"
#include "support/plugins.hpp"
#include "whatif/metric.hpp"

using whatif::Metric;
using whatif::MetricItem;
using whatif::test::make;

namespace {

WHATIF_TEST_PLUGINS("metrics");

constexpr double kSpacing = 2.0;  // mm: a voxel is 0.008 ml
constexpr double kVoxelMl = kSpacing * kSpacing * kSpacing / 1000.0;

// Twins of `subjects` subjects at levels 0, 1, 2 on a 4³ grid: level k darkens the first 3k voxels
// by 1 (nested, as the synthetic brain's lesions are), and its lesion volume is 3k voxels.
class DarkTwins : public whatif::Dataset {
 public:
  explicit DarkTwins(int subjects) : subjects_(subjects) {}
  std::int64_t size() const override { return 3 * subjects_; }
  whatif::Example get(std::int64_t i) const override {
    const int level = static_cast<int>(i % 3);
    whatif::Example e;
    e.image = at::full({1, 4, 4, 4}, 0.5f) + 0.01f * static_cast<float>(i / 3);
    e.image.view({-1}).slice(0, 0, 3 * level) -= 1.0f;
    e.subject = "s" + std::to_string(i / 3);
    e.spacing = {kSpacing, kSpacing, kSpacing};
    e.attributes["level"] = level;
    e.attributes["lesion_volume_ml"] = 3 * level * kVoxelMl;
    return e;
  }
  std::vector<std::string> attribute_names() const override { return {"lesion_volume_ml", "level"}; }
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs() const override {
    std::vector<std::pair<std::int64_t, std::int64_t>> out;
    for (std::int64_t s = 0; s < subjects_; ++s)
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b)
          if (a != b) out.emplace_back(3 * s + a, 3 * s + b);
    return out;
  }

 private:
  int subjects_;
};

// One subject's chest CT pair, windowed -1000 → 0, 1000 → 1: a lung-filled box in a bony wall
// (2 mm voxels, index i toward the patient's right), and at follow-up a block of fluid in the
// right lung, 8³ voxels = 4.096 ml, whose stated growth is 5 ml.
class FluidPair : public whatif::Dataset {
 public:
  std::int64_t size() const override { return 2; }
  whatif::Example get(std::int64_t i) const override {
    at::Tensor hu = at::full({40, 40, 40}, 400.0f);
    hu.slice(0, 3, 37).slice(1, 3, 37).slice(2, 3, 37).fill_(-850.0f);
    if (i == 1) hu.slice(0, 10, 18).slice(1, 10, 18).slice(2, 25, 33).fill_(15.0f);
    whatif::Example e;
    e.image = ((hu + 1000.0f) / 2000.0f).unsqueeze(0);
    e.subject = "s0";
    e.spacing = {2, 2, 2};
    e.direction = {-1, 0, 0, 0, -1, 0, 0, 0, 1};
    for (const auto& name : attribute_names()) e.attributes[name] = 0;
    e.attributes["effusion_right_ml"] = i == 1 ? 5.0 : 0.0;
    return e;
  }
  std::vector<std::string> attribute_names() const override {
    return {"effusion_right_ml", "effusion_left_ml", "consolidation_ml", "nodule_1_diameter_mm",
            "nodule_2_diameter_mm", "nodule_3_diameter_mm"};
  }
  std::vector<std::pair<std::int64_t, std::int64_t>> pairs() const override { return {{0, 1}}; }
};

// Two classes told apart by brightness: class c has mean 2c − 1, plus noise of σ = 0.3.
class Bright : public whatif::Dataset {
 public:
  std::int64_t size() const override { return 40; }
  whatif::Example get(std::int64_t i) const override {
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(77 + i);
    whatif::Example e;
    const double c = static_cast<double>(i % 2);
    e.image = static_cast<float>(2 * c - 1) + 0.3f * at::randn({1, 8, 8}, g);
    e.subject = "subject" + std::to_string(i / 2);
    e.attributes["level"] = c;
    return e;
  }
  std::vector<std::string> attribute_names() const override { return {"level"}; }
};

// Noise on 32×32, and in every other example a bright 2×2 spot somewhere: a finding of 4 pixels in
// 1024, a sixteenth of one cell of the classifier's last 4×4 map.
class Spot : public whatif::Dataset {
 public:
  std::int64_t size() const override { return 80; }
  whatif::Example get(std::int64_t i) const override {
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(300 + i);
    whatif::Example e;
    e.image = 0.3f * at::randn({1, 32, 32}, g);
    const std::int64_t y = (i * 7) % 30, x = (i * 13) % 30;
    if (i % 2) e.image.slice(1, y, y + 2).slice(2, x, x + 2) += 2.0f;
    e.subject = "subject" + std::to_string(i / 2);
    e.attributes["level"] = static_cast<double>(i % 2);
    return e;
  }
  std::vector<std::string> attribute_names() const override { return {"level"}; }
};

MetricItem twins(const at::Tensor& source, const at::Tensor& generated, double level, double source_level) {
  MetricItem item;
  item.source = source;
  item.generated = generated;
  item.attributes["level"] = at::full({1}, level, at::kDouble);
  item.attributes["source_level"] = at::full({1}, source_level, at::kDouble);
  return item;
}

}  // namespace

CATCH_TEST_CASE("effectiveness: the twin-difference measure recovers real twins exactly, then scores edits") {
  auto m = make<Metric>("metric", "effectiveness");
  CATCH_REQUIRE(whatif::test::error_of([&] { m->update(MetricItem{}); }).find("fit(dataset)") != std::string::npos);
  DarkTwins data(2);
  const auto real = m->fit(data, 0);
  CATCH_REQUIRE(real.at("measure_real_error_ml") == Approx(0).margin(1e-12));
  CATCH_REQUIRE(real.at("measure_real_ratio") == Approx(1));
  CATCH_REQUIRE(real.at("measure_real_correlation") == Approx(1));

  // An edit from level 0 to 2 that darkens 5 voxels, where real twins darken 6.
  const at::Tensor source = data.get(0).image.unsqueeze(0);
  at::Tensor edited = source.clone();
  edited.view({-1}).slice(0, 0, 5) -= 0.8f;
  edited.view({-1}).slice(0, 10, 20) += 0.05f;  // below delta: not a change
  m->update(twins(source, edited, 2, 0));
  auto out = m->compute();
  CATCH_REQUIRE(out.at("effectiveness_measured_ml") == Approx(5 * kVoxelMl));
  CATCH_REQUIRE(out.at("effectiveness_expected_ml") == Approx(6 * kVoxelMl));
  CATCH_REQUIRE(out.at("effectiveness_error_ml") == Approx(kVoxelMl));
  CATCH_REQUIRE(out.at("effectiveness") == Approx(5.0 / 6.0));
  CATCH_REQUIRE(out.at("effectiveness_opposite_ml") == Approx(0).margin(1e-12));  // +0.05 is below delta

  // Going down a level counts brightened voxels: 2 → 1 should undo 3 voxels; this undoes 4.
  m->reset();
  const at::Tensor high = data.get(2).image.unsqueeze(0);
  at::Tensor lowered = high.clone();
  lowered.view({-1}).slice(0, 0, 4) += 1.0f;
  m->update(twins(high, lowered, 1, 2));
  out = m->compute();
  CATCH_REQUIRE(out.at("effectiveness_measured_ml") == Approx(4 * kVoxelMl));
  CATCH_REQUIRE(out.at("effectiveness_expected_ml") == Approx(3 * kVoxelMl));

  // Voxels changing the other way (darker on the way down) are reported apart, as the noise floor.
  m->reset();
  lowered.view({-1}).slice(0, 30, 32) -= 1.0f;
  m->update(twins(high, lowered, 1, 2));
  out = m->compute();
  CATCH_REQUIRE(out.at("effectiveness_measured_ml") == Approx(4 * kVoxelMl));
  CATCH_REQUIRE(out.at("effectiveness_opposite_ml") == Approx(2 * kVoxelMl));

  // A transition the data never shows is refused by name.
  CATCH_REQUIRE(whatif::test::error_of([&] { m->update(twins(source, edited, 5, 0)); }).find("0 to 5") !=
                std::string::npos);
}

CATCH_TEST_CASE("classifier split: whole subjects, a fifth of them held out, independent of the seed") {
  const Bright data;
  const auto split = whatif_metrics::split_by_subject(data);
  CATCH_REQUIRE(split.heldout.size() == 8);  // 20 subjects → 4 held out, 2 examples each
  CATCH_REQUIRE(split.train.size() == 32);
  std::set<std::string> train, held;
  for (auto i : split.train) train.insert(data.get(i).subject);
  for (auto i : split.heldout) held.insert(data.get(i).subject);
  for (const auto& s : held) CATCH_REQUIRE(train.count(s) == 0);
}

CATCH_TEST_CASE("text-alignment: fraction of generated volumes the classifier puts in the requested class") {
  auto m = make<Metric>("metric", "text-alignment", {"steps=150"});
  const Bright data;
  const auto fit = m->fit(data, 1);
  CATCH_REQUIRE(fit.at("classifier_heldout_accuracy") == Approx(1.0));

  // Four bright volumes: two requested as class 1 (right), two as class 0 (wrong).
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(5);
  MetricItem item;
  item.generated = 1.0f + 0.3f * at::randn({4, 1, 8, 8}, g);
  item.attributes["level"] = at::tensor({1.0, 1.0, 0.0, 0.0}, at::kDouble);
  m->update(item);
  const auto out = m->compute();
  CATCH_REQUIRE(out.at("text_alignment") == Approx(0.5));
  CATCH_REQUIRE(out.at("classifier_heldout_accuracy") == Approx(1.0));

  item.attributes["level"] = at::full({1}, 3.0, at::kDouble);
  CATCH_REQUIRE(whatif::test::error_of([&] { m->update(item); }).find("not a class") != std::string::npos);
}

CATCH_TEST_CASE("augmentation-utility: generated volumes join the training set with the labels they were asked for") {
  auto m = make<Metric>("metric", "augmentation-utility", {"attributes=level", "threshold=0.5", "steps=150"});
  MetricItem early;
  early.reference = at::zeros({2, 1, 8, 8});
  CATCH_REQUIRE(whatif::test::error_of([&] { m->update(early); }).find("call fit(dataset)") != std::string::npos);
  const Bright data;
  const auto fit = m->fit(data, 1);
  CATCH_REQUIRE(fit.at("augmentation_real_examples") == 40);
  CATCH_REQUIRE(fit.at("augmentation_real_positive_fraction") == Approx(0.5));

  // Held-out real volumes: 5 bright (positive), 5 dark, from another generator.
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(11);
  const at::Tensor sign = at::tensor({1.f, 1.f, 1.f, 1.f, 1.f, -1.f, -1.f, -1.f, -1.f, -1.f}).view({10, 1, 1, 1});
  MetricItem test;
  test.reference = sign + 0.3f * at::randn({10, 1, 8, 8}, g);
  test.attributes["level"] = (sign.flatten().gt(0)).to(at::kDouble);
  m->update(test);
  const auto alone = m->compute();
  CATCH_REQUIRE(alone.at("augmentation_auc_real") == 1.0);
  CATCH_REQUIRE(alone.at("augmentation_auc_gain") == 0.0);
  CATCH_REQUIRE(alone.at("augmentation_generated_examples") == 0);
  CATCH_REQUIRE(alone.at("augmentation_test_examples") == 10);

  // Generated volumes four times the real set, each labelled against what it shows: a classifier
  // that learns from them must rank the held-out volumes backwards; the real-only one is unchanged.
  MetricItem poisoned;
  const at::Tensor flip = at::cat(std::vector<at::Tensor>(16, sign));
  poisoned.generated = flip + 0.3f * at::randn({160, 1, 8, 8}, g);
  poisoned.attributes["level"] = flip.flatten().lt(0).to(at::kDouble);
  m->update(poisoned);
  const auto out = m->compute();
  CATCH_REQUIRE(out.at("augmentation_auc_real") == 1.0);
  CATCH_REQUIRE(out.at("augmentation_auc_augmented") < 0.2);
  CATCH_REQUIRE(out.at("augmentation_generated_examples") == 160);

  MetricItem wrong;
  wrong.generated = at::zeros({2, 1, 8, 9});
  wrong.attributes["level"] = at::full({1}, 1.0, at::kDouble);
  CATCH_REQUIRE(whatif::test::error_of([&] { m->update(wrong); }).find("do not match the training volumes") !=
                std::string::npos);
  m->reset();
  MetricItem one_class;
  one_class.reference = at::ones({3, 1, 8, 8});
  one_class.attributes["level"] = at::full({1}, 1.0, at::kDouble);
  m->update(one_class);
  CATCH_REQUIRE(whatif::test::error_of([&] { m->compute(); }).find("one class only") != std::string::npos);
  CATCH_REQUIRE(whatif::test::error_of([] { make<Metric>("metric", "augmentation-utility", {}); })
                    .find("option 'attributes'") != std::string::npos);
}

CATCH_TEST_CASE("classifier pooling: the max finds a one-pixel finding the mean does not") {
  const Spot data;
  double accuracy[2];
  for (int max = 0; max < 2; ++max) {
    whatif_metrics::ClassifierOptions options;
    options.steps = 150;
    options.pooling = max ? "max" : "mean";
    whatif_metrics::AttributeClassifier classifier(options);
    accuracy[max] = classifier.fit(data, 1);
  }
  // Measured: 0.94 held-out with the max, 0.50 (chance) with the mean.
  CATCH_CHECK(accuracy[1] >= 0.9);
  CATCH_CHECK(accuracy[0] <= 0.7);
  whatif_metrics::ClassifierOptions bad;
  bad.pooling = "median";
  CATCH_CHECK_THROWS_WITH(whatif_metrics::AttributeClassifier(bad), Catch::Contains("'pooling' must be mean or max"));
}

CATCH_TEST_CASE("fid after fit: classifier features, the dataset as reference; the dataset itself scores 0") {
  auto m = make<Metric>("metric", "fid", {"steps=50"});
  const Bright data;
  m->fit(data, 2);
  std::vector<at::Tensor> all;
  for (std::int64_t i = 0; i < data.size(); ++i) all.push_back(data.get(i).image);
  MetricItem item;
  item.generated = at::stack(all);
  m->update(item);
  // 0 up to the square root of a singular covariance (64 features, 40 volumes).
  const double same = m->compute().at("fid");
  CATCH_REQUIRE(same == Approx(0).margin(1e-2));

  // Only the bright class: a different distribution, a distance far above that.
  m->reset();
  item.generated = at::stack(all).slice(0, 1, 40, 2);
  m->update(item);
  const double other = m->compute().at("fid");
  CATCH_INFO("same set " << same << ", bright half " << other);
  CATCH_REQUIRE(other > 1.0);
}

CATCH_TEST_CASE("chest-change: findings grown between twins, read back to HU, against the stated change") {
  auto m = make<Metric>("metric", "chest-change", {"window=-1000,1000"});
  CATCH_REQUIRE(whatif::test::error_of([&] { m->update(MetricItem{}); }).find("fit(dataset)") != std::string::npos);
  FluidPair data;
  const double block = 512 * 0.008;
  const auto real = m->fit(data, 0);
  CATCH_REQUIRE(real.at("real_effusion_right_error_ml") == Approx(5.0 - block));
  CATCH_REQUIRE(real.at("real_consolidation_error_ml") == Approx(0).margin(1e-12));

  // Generated twins: the baseline itself and a follow-up whose fluid block is half as deep.
  MetricItem item;
  item.source = data.get(0).image.unsqueeze(0);
  item.generated = data.get(1).image.unsqueeze(0).clone();
  item.generated[0][0].slice(0, 14, 18).slice(1, 10, 18).slice(2, 25, 33).fill_((-850.0f + 1000.0f) / 2000.0f);
  for (const auto& [name, value] : data.get(1).attributes) item.attributes[name] = at::tensor({value}, at::kDouble);
  for (const auto& [name, value] : data.get(0).attributes)
    item.attributes["source_" + name] = at::tensor({value}, at::kDouble);
  m->update(item);
  const auto out = m->compute();
  CATCH_REQUIRE(out.at("effusion_right_measured_ml") == Approx(block / 2));
  CATCH_REQUIRE(out.at("effusion_right_true_ml") == Approx(5.0));
  CATCH_REQUIRE(out.at("effusion_right_error_ml") == Approx(5.0 - block / 2));
  CATCH_REQUIRE(out.at("effusion_left_error_ml") == Approx(0).margin(1e-12));
  CATCH_REQUIRE(out.at("chest_change_error_ml") == Approx(5.0 - block / 2));
  CATCH_REQUIRE(out.at("real_effusion_right_error_ml") == Approx(5.0 - block));

  // Without the window the same volumes are read as HU near 0: nothing is air, nothing changes.
  auto hu = make<Metric>("metric", "chest-change");
  hu->fit(data, 0);
  hu->update(item);
  CATCH_REQUIRE(hu->compute().at("effusion_right_measured_ml") == Approx(0).margin(1e-12));

  item.source = item.source[0];
  CATCH_REQUIRE(whatif::test::error_of([&] { m->update(item); }).find("[B, 1, D, H, W]") != std::string::npos);
  CATCH_REQUIRE(whatif::test::error_of([&] { make<Metric>("metric", "chest-change", {"window=1,0"}); })
                    .find("high > low") != std::string::npos);
}

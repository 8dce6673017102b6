#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "train/autocast.hpp"
#include "train/checkpoint.hpp"
#include "whatif/trainer.hpp"
#include "whatif/registry/error.hpp"

namespace fs = std::filesystem;

namespace {

// y = W x + b with dropout on the input: small, but it draws from every source of randomness the
// trainer controls (batch noise from the step generator, dropout from the global one).
struct Regression : whatif::Trainable {
  torch::nn::Linear linear{nullptr};
  torch::nn::Dropout dropout{nullptr};
  torch::nn::Sequential net;
  Regression() {
    torch::manual_seed(7);
    linear = torch::nn::Linear(4, 2);
    dropout = torch::nn::Dropout(0.2);
    net = torch::nn::Sequential(dropout, linear);
  }
  whatif::NamedTensors named_parameters() override {
    whatif::NamedTensors out;
    for (const auto& item : net->named_parameters()) out.emplace_back(item.key(), item.value());
    return out;
  }
  void train(bool on) override { net->train(on); }
  void to(const c10::Device& d) override { net->to(d); }
};

whatif::MicroLoss regression_loss(Regression& model) {
  return [&model](std::int64_t, std::int64_t, at::Generator& g, std::map<std::string, double>&) {
    const auto x = at::randn({16, 4}, g);
    const auto w = torch::tensor({{1.0f, -2.0f, 0.5f, 0.0f}, {0.0f, 1.0f, 1.0f, -1.0f}});
    const auto y = x.matmul(w.t()) + 0.1 * at::randn({16, 2}, g);
    return (model.net->forward(x) - y).square().mean();
  };
}

struct Scratch {
  fs::path root = fs::temp_directory_path() / ("whatif-trainer-" + std::to_string(::getpid()));
  Scratch() { fs::create_directories(root); }
  ~Scratch() { fs::remove_all(root); }
};

whatif::TrainConfig config(const std::string& checkpoint) {
  whatif::TrainConfig c;
  c.steps = 40;
  c.lr = 0.05;
  c.warmup = 5;
  c.weight_decay = 0.01;
  c.ema_decay = 0.9;
  c.accumulate = 2;
  c.seed = 3;
  c.checkpoint = checkpoint;
  c.label = "test";
  return c;
}

}  // namespace

CATCH_TEST_CASE("training learns a linear map (AdamW, warmup + cosine, clipping, EMA)") {
  Regression model;
  whatif::Trainer trainer(config(""), {{"model", &model}});
  const auto result = trainer.fit(regression_loss(model));
  CATCH_REQUIRE(result.losses.size() == 40);
  CATCH_REQUIRE(result.losses.back() < 0.2 * result.losses.front());
}

CATCH_TEST_CASE("the EMA follows min(decay, (1 + step) / (10 + step)) from the initial weights") {
  Regression model;
  auto c = config("");
  c.ema_decay = 0.95;
  c.accumulate = 1;
  // The loss sees the weights each step starts from: those after the previous step.
  std::vector<at::Tensor> seen;
  const auto inner = regression_loss(model);
  const whatif::MicroLoss loss = [&](std::int64_t step, std::int64_t micro, at::Generator& g,
                                     std::map<std::string, double>& logs) {
    seen.push_back(model.linear->weight.detach().to(at::kDouble).clone());
    return inner(step, micro, g, logs);
  };
  whatif::Trainer trainer(c, {{"model", &model}});
  trainer.fit(loss);
  seen.push_back(model.linear->weight.detach().to(at::kDouble).clone());
  at::Tensor ema = seen.front().clone();
  for (std::int64_t k = 0; k < c.steps; ++k) {
    const double d = std::min(c.ema_decay, (1.0 + k) / (10.0 + k));
    ema = d * ema + (1 - d) * seen[static_cast<std::size_t>(k) + 1];
  }
  trainer.use_ema(true);
  CATCH_REQUIRE(at::allclose(model.linear->weight.to(at::kDouble), ema, 1e-5, 1e-6));
}

CATCH_TEST_CASE("an interrupted and resumed run ends bit-identical to an uninterrupted one") {
  Scratch s;
  Regression straight;
  whatif::Trainer a(config((s.root / "a.h5").string()), {{"model", &straight}});
  const auto full = a.fit(regression_loss(straight));

  Regression first;
  auto interrupted = config((s.root / "b.h5").string());
  interrupted.checkpoint_every = 10;
  interrupted.stop_after = 17;  // dies between checkpoints: steps 10..16 are redone
  whatif::Trainer b(interrupted, {{"model", &first}});
  CATCH_REQUIRE(b.fit(regression_loss(first)).steps_done == 17);

  Regression resumed;  // a new process: fresh weights, everything else from the checkpoint
  auto again = config((s.root / "b.h5").string());
  again.checkpoint_every = 10;
  whatif::Trainer c(again, {{"model", &resumed}});
  const auto rest = c.fit(regression_loss(resumed));
  CATCH_REQUIRE(rest.resumed_from == 10);
  CATCH_REQUIRE(rest.losses == full.losses);
  auto p = straight.named_parameters(), q = resumed.named_parameters();
  for (std::size_t i = 0; i < p.size(); ++i) CATCH_REQUIRE(p[i].second.equal(q[i].second));
  // The EMA weights were restored too.
  a.use_ema(true);
  c.use_ema(true);
  p = straight.named_parameters();
  q = resumed.named_parameters();
  for (std::size_t i = 0; i < p.size(); ++i) CATCH_REQUIRE(p[i].second.equal(q[i].second));
}

CATCH_TEST_CASE("a checkpoint from another configuration is refused; NaN stops training") {
  Scratch s;
  Regression model;
  auto c = config((s.root / "c.h5").string());
  c.steps = 2;
  whatif::Trainer(c, {{"model", &model}}).fit(regression_loss(model));
  c.config_json = R"({"lr": 1})";
  c.steps = 4;
  CATCH_REQUIRE_THROWS_WITH(whatif::Trainer(c, {{"model", &model}}).fit(regression_loss(model)),
                            Catch::Contains("another configuration"));
  auto nan = config("");
  whatif::Trainer t(nan, {{"model", &model}});
  CATCH_REQUIRE_THROWS_WITH(
      t.fit([&model](std::int64_t step, std::int64_t micro, at::Generator& g,
                     std::map<std::string, double>& logs) {
        const auto loss = regression_loss(model)(step, micro, g, logs);
        return step == 3 ? loss * std::nan("") : loss;
      }),
      Catch::Contains("loss is NaN at step 3"));
}

CATCH_TEST_CASE("checkpoints round-trip tensors, attributes and losses through HDF5") {
  Scratch s;
  whatif::Checkpoint c;
  c.groups["params"] = {{"a.weight", at::randn({3, 4})}, {"a.bias", at::arange(5, at::kLong)}};
  c.groups["optim/m"] = {{"a.weight", at::ones({3, 4}, at::kDouble)}};
  c.groups["buffers"] = {{"tok", at::tensor({1, 2, 255}).to(at::kByte)}, {"half", at::ones({2}, at::kBFloat16)}};
  c.strings["config"] = R"({"x": "ü"})";
  c.integers["step"] = 12;
  c.losses = {0.5, 0.25};
  const std::string path = (s.root / "ck.h5").string();
  whatif::write_checkpoint(path, c);
  CATCH_REQUIRE(!fs::exists(path + ".tmp"));
  const auto r = whatif::read_checkpoint(path);
  CATCH_REQUIRE(r.integers.at("step") == 12);
  CATCH_REQUIRE(r.strings.at("config") == c.strings["config"]);
  CATCH_REQUIRE(r.losses == c.losses);
  const auto find = [&](const std::string& g, const std::string& n) {
    for (const auto& [name, t] : r.groups.at(g))
      if (name == n) return t;
    return at::Tensor();
  };
  CATCH_REQUIRE(find("params", "a.weight").equal(c.groups["params"][0].second));
  CATCH_REQUIRE(find("params", "a.bias").equal(c.groups["params"][1].second));
  CATCH_REQUIRE(find("optim/m", "a.weight").equal(c.groups["optim/m"][0].second));
  CATCH_REQUIRE(find("buffers", "tok").equal(c.groups["buffers"][0].second));
  CATCH_REQUIRE(find("buffers", "half").equal(at::ones({2})));  // bf16 stored as float32
  CATCH_REQUIRE_THROWS_WITH(whatif::read_checkpoint((s.root / "none.h5").string()),
                            Catch::Contains("no such checkpoint"));
  std::ofstream(s.root / "junk.h5") << "not hdf5";
  CATCH_REQUIRE_THROWS_WITH(whatif::read_checkpoint((s.root / "junk.h5").string()),
                            Catch::Contains("has no whatif seal"));
}

CATCH_TEST_CASE("the autocast guard switches bf16 on and restores the previous state") {
  CATCH_REQUIRE(!at::autocast::is_cpu_enabled());
  {
    whatif::AutocastGuard on(true);
    CATCH_REQUIRE(at::autocast::is_cpu_enabled());
    const auto y = torch::matmul(torch::randn({4, 4}), torch::randn({4, 4}));
    CATCH_REQUIRE(y.scalar_type() == at::kBFloat16);
    {
      whatif::AutocastGuard off(false);
      CATCH_REQUIRE(!at::autocast::is_cpu_enabled());
    }
    CATCH_REQUIRE(at::autocast::is_cpu_enabled());
  }
  CATCH_REQUIRE(!at::autocast::is_cpu_enabled());
}

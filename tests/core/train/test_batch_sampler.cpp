// The batch sampler against what it promises: every epoch visits each example once; indices are a
// function of (seed, step, micro, rank) alone; ranks split a global batch that does not depend on
// the world size. And AdamW's decay groups: kernels decay, biases, norms and embeddings do not.
#include <catch2/catch.hpp>

#include <algorithm>
#include <numeric>

#include <torch/torch.h>

#include "whatif/batch_sampler.hpp"
#include "whatif/trainer.hpp"

CATCH_TEST_CASE("batch sampler: epochs are permutations, steps are reproducible, ranks split the global batch") {
  const std::int64_t n = 10, batch = 4;
  const whatif::BatchSampler sampler(n, batch, 1, 42);
  // Steps 0..4 take positions 0..19: epochs 0 and 1, each a permutation of 0..9.
  std::vector<std::int64_t> stream;
  for (std::int64_t step = 0; step < 5; ++step) {
    const auto part = sampler.indices(step, 0);
    CATCH_REQUIRE(part.size() == static_cast<std::size_t>(batch));
    stream.insert(stream.end(), part.begin(), part.end());
  }
  std::vector<std::int64_t> all(n);
  std::iota(all.begin(), all.end(), 0);
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::vector<std::int64_t> seen(stream.begin() + epoch * n, stream.begin() + (epoch + 1) * n);
    std::sort(seen.begin(), seen.end());
    CATCH_REQUIRE(seen == all);
  }
  CATCH_REQUIRE(sampler.epoch_order(0) != sampler.epoch_order(1));
  // A fresh sampler (a resumed run) gives step 3 the same examples; another seed does not.
  CATCH_REQUIRE(whatif::BatchSampler(n, batch, 1, 42).indices(3, 0) == sampler.indices(3, 0));
  CATCH_REQUIRE(whatif::BatchSampler(n, batch, 1, 43).epoch_order(0) != sampler.epoch_order(0));
  // Two ranks with half the batch each read, together, what one rank with the whole batch reads.
  const whatif::BatchSampler r0(n, batch / 2, 1, 42, 0, 2), r1(n, batch / 2, 1, 42, 1, 2);
  for (std::int64_t step = 0; step < 5; ++step) {
    auto both = r0.indices(step, 0);
    const auto second = r1.indices(step, 0);
    both.insert(both.end(), second.begin(), second.end());
    CATCH_REQUIRE(both == sampler.indices(step, 0));
  }
  // Accumulation: micro-batches of a step follow one another in the stream.
  const whatif::BatchSampler accumulated(n, batch / 2, 2, 42);
  auto step1 = accumulated.indices(1, 0);
  const auto micro1 = accumulated.indices(1, 1);
  step1.insert(step1.end(), micro1.begin(), micro1.end());
  CATCH_REQUIRE(step1 == sampler.indices(1, 0));
  CATCH_REQUIRE_THROWS(whatif::BatchSampler(0, 1, 1, 0));
  CATCH_REQUIRE_THROWS(whatif::BatchSampler(4, 1, 1, 0, 2, 2));
}

namespace {

struct Parts : whatif::Trainable {
  at::Tensor kernel = torch::ones({2, 3}).requires_grad_(), bias = torch::ones({2}).requires_grad_(),
             table = torch::ones({5, 2}).requires_grad_();
  whatif::NamedTensors named_parameters() override {
    return {{"proj.weight", kernel}, {"proj.bias", bias}, {"token_embedding.weight", table}};
  }
  void train(bool) override {}
  void to(const c10::Device&) override {}
};

}  // namespace

CATCH_TEST_CASE("AdamW decays kernels only: biases, norms and embedding tables keep their values") {
  CATCH_REQUIRE(whatif::Trainer::decays("unet.conv.weight", torch::zeros({4, 4, 3, 3})));
  CATCH_REQUIRE_FALSE(whatif::Trainer::decays("unet.conv.bias", torch::zeros({4})));
  CATCH_REQUIRE_FALSE(whatif::Trainer::decays("unet.norm.weight", torch::zeros({4})));
  CATCH_REQUIRE_FALSE(whatif::Trainer::decays("text.token_embedding.weight", torch::zeros({9, 4})));
  CATCH_REQUIRE_FALSE(whatif::Trainer::decays("text.position_embedding", torch::zeros({9, 4})));
  // With a zero gradient Adam moves nothing, so each step only decays: by (1 − lr·wd) per step.
  Parts parts;
  whatif::TrainConfig config;
  config.steps = 3;
  config.lr = 0.1;
  config.warmup = 0;
  config.min_lr_ratio = 1.0;
  config.weight_decay = 0.5;
  config.ema_decay = 0.0;
  whatif::Trainer trainer(config, {{"net", &parts}});
  trainer.fit([&](std::int64_t, std::int64_t, at::Generator&, std::map<std::string, double>&) {
    return (parts.kernel.sum() + parts.bias.sum() + parts.table.sum()) * 0.0;
  });
  CATCH_REQUIRE(parts.kernel[0][0].item<double>() == Approx(std::pow(1.0 - 0.1 * 0.5, 3)));
  CATCH_REQUIRE(parts.bias[0].item<double>() == 1.0);
  CATCH_REQUIRE(parts.table[0][0].item<double>() == 1.0);
}

// Vision towers: output shapes in 2D and 3D, residual blocks that start as the identity, the ViT's
// sinusoidal positions against their formula, a ViT whose class token sees every patch, and the
// errors a wrong input gets.
#include <catch2/catch.hpp>

#include <cmath>

#include <torch/torch.h>

#include "support/plugins.hpp"
#include "vision/resnet.hpp"
#include "vision/vit.hpp"
#include "whatif/registry/error.hpp"

using whatif::test::make;

namespace {

WHATIF_TEST_PLUGINS("vision");

}  // namespace

CATCH_TEST_CASE("vision towers map 2D and 3D images to one vector each", "[vision]") {
  torch::manual_seed(0);
  const auto resnet3 = make<whatif::VisionEncoder>("vision", "resnet", {"channels=8,16,16", "groups=4", "width=12"});
  CATCH_CHECK(resnet3->embed(torch::randn({2, 1, 16, 16, 16})).sizes() == std::vector<std::int64_t>{2, 12});
  const auto resnet2 = make<whatif::VisionEncoder>("vision", "resnet",
                                                   {"spatial_dims=2", "in_channels=3", "channels=8", "groups=4", "width=5"});
  CATCH_CHECK(resnet2->embed(torch::randn({3, 3, 10, 14})).sizes() == std::vector<std::int64_t>{3, 5});
  const auto vit3 = make<whatif::VisionEncoder>("vision", "vit", {"patch=4", "hidden=24", "heads=2", "layers=1", "width=7"});
  CATCH_CHECK(vit3->embed(torch::randn({2, 1, 8, 8, 12})).sizes() == std::vector<std::int64_t>{2, 7});
  CATCH_CHECK(vit3->width() == 7);
  CATCH_CHECK(vit3->spatial_dims() == 3);
  CATCH_CHECK_THROWS_WITH(vit3->embed(torch::randn({1, 1, 8, 8, 10})), Catch::Contains("not a multiple of 'patch'"));
  CATCH_CHECK_THROWS_WITH(resnet3->embed(torch::randn({1, 2, 8, 8, 8})), Catch::Contains("expects images [B, 1, D, H, W]"));
  CATCH_CHECK_THROWS_WITH(make<whatif::VisionEncoder>("vision", "resnet", {"channels=8,12", "groups=8"}),
                          Catch::Contains("divisible by 'groups'"));
}

CATCH_TEST_CASE("a residual block starts as the identity", "[vision]") {
  torch::manual_seed(1);
  whatif_vision::PreActBlock block(3, 8, 4);
  const torch::Tensor x = torch::randn({2, 8, 4, 4, 4});
  CATCH_CHECK(torch::equal(block->forward(x), x));
}

CATCH_TEST_CASE("resnet pooling: mean, max and both read the last stage's map", "[vision]") {
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({2, 1, 8, 8, 8});
  for (const std::string pooling : {"mean", "max", "mean-max"}) {
    torch::manual_seed(3);
    whatif_vision::ResNetConfig c;
    c.channels = {8, 8};
    c.groups = 4;
    c.width = 6;
    c.pooling = pooling;
    whatif_vision::ResNet net(c);
    const torch::Tensor h = net->features(x);  // [2, 8, 4, 4, 4]
    const torch::Tensor mean = h.reshape({2, 8, -1}).sum(2) / 64.0;
    const torch::Tensor max = std::get<0>(h.reshape({2, 8, -1}).max(2));
    const torch::Tensor pooled = pooling == "mean" ? mean : pooling == "max" ? max : torch::cat({mean, max}, 1);
    const torch::Tensor expected = torch::mm(pooled, net->head->weight.t()) + net->head->bias;
    CATCH_CHECK(net->head->weight.size(1) == (pooling == "mean-max" ? 16 : 8));
    CATCH_CHECK(torch::allclose(net->forward(x), expected, 1e-5, 1e-6));
  }
  CATCH_CHECK_THROWS_WITH(make<whatif::VisionEncoder>("vision", "resnet", {"channels=8", "groups=4", "pooling=median"}),
                          Catch::Contains("'pooling' must be mean, max or mean-max"));
}

CATCH_TEST_CASE("the resnet tower's map is its first stage at the input's resolution", "[vision]") {
  torch::NoGradGuard no_grad;
  torch::manual_seed(4);
  const torch::Tensor x = torch::randn({2, 1, 8, 8, 8});
  whatif_vision::ResNetConfig c;
  c.channels = {8, 16};
  c.groups = 4;
  c.width = 6;
  whatif_vision::ResNet net(c);
  const auto [embedding, map] = net->forward_with_map(x);
  CATCH_CHECK(torch::equal(embedding, net->forward(x)));  // the same pass as forward
  // By hand: the stem, then stage 0's one block (stage 0 does not downsample).
  const auto& stage0 = net->stages[0]->as<torch::nn::ModuleList>();
  const torch::Tensor expected = (*stage0)[0]->as<whatif_vision::PreActBlockImpl>()->forward(net->stem(x));
  CATCH_CHECK(map.sizes() == std::vector<std::int64_t>{2, 8, 8, 8, 8});
  CATCH_CHECK(torch::allclose(map, expected, 1e-5, 1e-6));
  // Through the registry: the tower hands both out.
  const auto tower = make<whatif::VisionEncoder>("vision", "resnet", {"channels=8,16", "groups=4", "width=6"});
  const auto out = tower->embed_with_map(x);
  CATCH_CHECK(tower->map_channels() == 8);
  CATCH_CHECK(out.map.sizes() == map.sizes());
  CATCH_CHECK(torch::equal(out.embedding, tower->embed(x)));
  const auto vit = make<whatif::VisionEncoder>("vision", "vit", {"patch=4", "hidden=24", "heads=2", "layers=1", "width=7"});
  CATCH_CHECK(vit->map_channels() == 0);
  CATCH_CHECK_THROWS_WITH(vit->embed_with_map(torch::randn({1, 1, 8, 8, 8})),
                          Catch::Contains("vision/vit gives no full-resolution feature map"));
}

CATCH_TEST_CASE("ViT positions are sin/cos of each axis's coordinate", "[vision]") {
  // A 3 × 5 grid, hidden 10: 2 pairs per axis (8 columns), the last 2 columns zero.
  const torch::Tensor p = whatif_vision::grid_positions({3, 5}, 10);
  CATCH_REQUIRE(p.sizes() == std::vector<std::int64_t>{15, 10});
  const auto value = [&](std::int64_t row, std::int64_t col) { return p[row][col].item<double>(); };
  const double f1 = std::exp(-std::log(10000.0) / 2);  // frequencies 1 and 10000^(-1/2)
  const std::int64_t patch = 2 * 5 + 3;                // row-major: (2, 3)
  CATCH_CHECK(value(patch, 0) == Approx(std::sin(2.0)));
  CATCH_CHECK(value(patch, 1) == Approx(std::sin(2.0 * f1)));
  CATCH_CHECK(value(patch, 2) == Approx(std::cos(2.0)));
  CATCH_CHECK(value(patch, 4) == Approx(std::sin(3.0)));
  CATCH_CHECK(value(patch, 7) == Approx(std::cos(3.0 * f1)));
  CATCH_CHECK(value(patch, 8) == 0.0);
  CATCH_CHECK(value(patch, 9) == 0.0);
}

CATCH_TEST_CASE("the ViT's class token reads every patch", "[vision]") {
  torch::manual_seed(2);
  whatif_vision::ViTConfig c;
  c.spatial_dims = 2;
  c.patch = 4;
  c.hidden = 16;
  c.heads = 2;
  c.layers = 1;
  c.width = 6;
  whatif_vision::ViTEncoder vit(c);
  vit.train(false);
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({1, 1, 12, 12});
  const torch::Tensor base = vit.embed(x);
  for (std::int64_t py = 0; py < 3; ++py)
    for (std::int64_t px = 0; px < 3; ++px) {
      torch::Tensor y = x.clone();
      y.narrow(2, 4 * py, 4).narrow(3, 4 * px, 4).add_(1.0);
      CATCH_CHECK((vit.embed(y) - base).abs().max().item<double>() > 1e-6);
    }
  // With no blocks the class token attends to nothing: every image gets the same vector.
  c.layers = 0;
  whatif_vision::ViTEncoder bare(c);
  CATCH_CHECK(torch::allclose(bare.embed(x), bare.embed(torch::randn({1, 1, 12, 12}))));
}

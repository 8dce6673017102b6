// The vq-vae encoder: shapes and token grids through the registry; nearest-code assignment against
// brute force; one EMA step against its closed form; the dead-code restart; a tiny 2D vq-vae trained
// through the common trainer (fit_encoder) to a measured reconstruction gain, with bit-exact resume
// and a checkpoint round trip.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include <torch/torch.h>

#include "core/data/temp_dir.hpp"
#include "diffusion/tiling.hpp"
#include "encoders/vq_vae.hpp"
#include "support/plugins.hpp"
#include "train/fit_encoder.hpp"
#include "whatif/dataset.hpp"
#include "whatif/encoder.hpp"

using whatif::Encoder;
using whatif::test::make;
using whatif_encoders::VQVAEConfig;
using whatif_encoders::VQVAEEncoder;
using whatif_encoders::VectorQuantizerImpl;

namespace {

WHATIF_TEST_PLUGINS("encoders");

// Soft-edged disks of random centre, radius and brightness on a dark background, in [0, 1]:
// [n, 1, size, size].
torch::Tensor disks(std::int64_t n, std::int64_t size, std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto u = [&](double lo, double hi) { return torch::rand({n, 1, 1, 1}, gen) * (hi - lo) + lo; };
  const auto cy = u(0.3 * size, 0.7 * size), cx = u(0.3 * size, 0.7 * size);
  const auto r = u(0.15 * size, 0.3 * size), level = u(0.5, 1.0);
  const auto grid = torch::arange(size, torch::kFloat) + 0.5;
  const auto dist = ((grid.view({1, 1, size, 1}) - cy).square() + (grid.view({1, 1, 1, size}) - cx).square()).sqrt();
  return level * torch::sigmoid(2.0 * (r - dist));
}

class Disks : public whatif::Dataset {
 public:
  explicit Disks(torch::Tensor images) : images_(std::move(images)) {}
  std::int64_t size() const override { return images_.size(0); }
  whatif::Example get(std::int64_t i) const override {
    whatif::Example e;
    e.image = images_[i].clone();
    return e;
  }
  std::vector<std::string> attribute_names() const override { return {}; }

 private:
  torch::Tensor images_;
};

double psnr(const torch::Tensor& a, const torch::Tensor& b) {
  return 10.0 * std::log10(1.0 / (a - b).square().mean().item<double>());
}

VQVAEConfig tiny_2d() {
  VQVAEConfig c;
  c.spatial_dims = 2;
  c.codebook_size = 32;
  c.codebook_dim = 4;
  c.downsample = 2;
  c.channels = {8, 16};
  c.groups = 4;
  c.dead_code_steps = 20;
  return c;
}

}  // namespace

CATCH_TEST_CASE("vq-vae token grids in 2D and 3D; detokenize(tokenize(x)) is decode(encode(x)); bad input refused") {
  at::manual_seed(0);
  torch::NoGradGuard no_grad;
  const auto vq2 = make<Encoder>("encoder", "vq-vae",
                                 {"spatial_dims=2", "in_channels=2", "channels=8,16,16", "groups=4",
                                  "codebook_size=16", "codebook_dim=3"});
  vq2->train(false);
  CATCH_REQUIRE(vq2->discrete());
  CATCH_REQUIRE(vq2->learnable());
  CATCH_REQUIRE(vq2->codebook_size() == 16);
  const auto x2 = torch::rand({3, 2, 16, 24});
  const auto ids2 = vq2->tokenize(x2);
  CATCH_REQUIRE(ids2.scalar_type() == torch::kLong);
  CATCH_REQUIRE(ids2.sizes() == torch::IntArrayRef({3, 4, 6}));
  CATCH_REQUIRE(ids2.min().item<std::int64_t>() >= 0);
  CATCH_REQUIRE(ids2.max().item<std::int64_t>() < 16);
  CATCH_REQUIRE(vq2->latent_shape({2, 16, 24}) == std::vector<std::int64_t>{3, 4, 6});
  const auto z2 = vq2->encode(x2);
  CATCH_REQUIRE(z2.sizes() == torch::IntArrayRef({3, 3, 4, 6}));
  const auto decoded = vq2->decode(z2);
  CATCH_REQUIRE(decoded.sizes() == x2.sizes());
  CATCH_REQUIRE(vq2->detokenize(ids2).equal(decoded));

  // decode quantises: the code vectors of the ids decode to the same image as the raw latents.
  auto& vq = dynamic_cast<VQVAEEncoder&>(*vq2);
  const auto entries = vq.codes(ids2);
  const auto codebook = vq.quantizer().codebook;
  CATCH_REQUIRE(entries[1].select(1, 2).select(1, 5).equal(codebook[ids2[1][2][5].item<std::int64_t>()]));
  CATCH_REQUIRE(vq2->decode(entries).equal(decoded));

  const auto vq3 = make<Encoder>("encoder", "vq-vae",
                                 {"spatial_dims=3", "downsample=2", "channels=8,8", "codebook_size=8",
                                  "codebook_dim=2"});
  vq3->train(false);
  const auto x3 = torch::rand({2, 1, 8, 12, 4});
  const auto ids3 = vq3->tokenize(x3);
  CATCH_REQUIRE(ids3.sizes() == torch::IntArrayRef({2, 4, 6, 2}));
  CATCH_REQUIRE(ids3.max().item<std::int64_t>() < 8);
  CATCH_REQUIRE(vq3->detokenize(ids3).equal(vq3->decode(vq3->encode(x3))));
  CATCH_REQUIRE(vq3->detokenize(ids3).sizes() == x3.sizes());
  std::set<std::string> buffers;
  for (const auto& [name, b] : vq3->named_buffers()) buffers.insert(name);
  CATCH_REQUIRE(buffers == std::set<std::string>{"quantizer.codebook", "quantizer.cluster_size",
                                                 "quantizer.embed_sum", "quantizer.unused_steps"});

  CATCH_REQUIRE_THROWS_WITH(make<Encoder>("encoder", "vq-vae", {"codebook_size=1"}),
                            Catch::Contains("'codebook_size' must be >= 2"));
  CATCH_REQUIRE_THROWS_WITH(make<Encoder>("encoder", "vq-vae", {"ema_decay=1"}),
                            Catch::Contains("'ema_decay' must be in [0, 1)"));
  CATCH_REQUIRE_THROWS_WITH(make<Encoder>("encoder", "vq-vae", {"downsample=3"}), Catch::Contains("power of 2"));
  CATCH_REQUIRE_THROWS_WITH(make<Encoder>("encoder", "vq-vae", {"channels=32,64"}),
                            Catch::Contains("log2(downsample)+1 = 3"));
  CATCH_REQUIRE_THROWS_WITH(vq2->encode(torch::rand({1, 2, 18, 16})), Catch::Contains("divisible"));
  CATCH_REQUIRE_THROWS_WITH(vq2->detokenize(torch::full({1, 4, 6}, 16, torch::kLong)),
                            Catch::Contains("[0, 16)"));
  CATCH_REQUIRE_THROWS_WITH(vq2->detokenize(torch::zeros({1, 4, 6})), Catch::Contains("int64"));
  CATCH_REQUIRE_THROWS_WITH(vq2->decode(torch::zeros({1, 4, 4, 6})), Catch::Contains("codebook_dim"));
}

CATCH_TEST_CASE("quantisation picks the nearest code: brute-force distances in double agree") {
  torch::manual_seed(1);
  auto config = tiny_2d();
  config.codebook_size = 24;
  config.codebook_dim = 5;
  VQVAEEncoder vq(config);
  // Codes clustered closely, so many latents have near ties between codes.
  vq.quantizer().codebook.copy_(torch::randn({24, 5}) * 0.3);
  const auto z = torch::randn({3, 5, 6, 7}) * 0.3;
  const auto ids = vq.ids_of(z);
  CATCH_REQUIRE(ids.sizes() == torch::IntArrayRef({3, 6, 7}));
  const auto zd = z.to(torch::kDouble);
  const auto e = vq.quantizer().codebook.to(torch::kDouble);
  const auto za = zd.accessor<double, 4>();
  const auto ea = e.accessor<double, 2>();
  std::int64_t checked = 0;
  for (std::int64_t b = 0; b < 3; ++b)
    for (std::int64_t i = 0; i < 6; ++i)
      for (std::int64_t j = 0; j < 7; ++j) {
        std::int64_t best = -1;
        double best_d = 1e300;
        for (std::int64_t k = 0; k < 24; ++k) {
          double d = 0;
          for (std::int64_t c = 0; c < 5; ++c) d += (za[b][c][i][j] - ea[k][c]) * (za[b][c][i][j] - ea[k][c]);
          if (d < best_d) best_d = d, best = k;
        }
        CATCH_REQUIRE(ids[b][i][j].item<std::int64_t>() == best);
        ++checked;
      }
  CATCH_REQUIRE(checked == 126);
  CATCH_REQUIRE(std::set<std::int64_t>(ids.data_ptr<std::int64_t>(), ids.data_ptr<std::int64_t>() + ids.numel()).size() > 5);
}

CATCH_TEST_CASE("one EMA step of the codebook is the closed form of van den Oord et al. (App. A.1)") {
  // K = 3 codes in 2D, γ = 0.5, ε = 0.1; every cluster size starts at 1 and m_i at e_i.
  VectorQuantizerImpl q(3, 2, 0.5, 0.1, 0);
  q.codebook.copy_(torch::tensor({0.0, 0.0, 1.0, 1.0, 4.0, 0.0}).view({3, 2}));
  q.embed_sum.copy_(q.codebook);
  q.cluster_size.fill_(1.0);
  // Rows and their nearest codes: (0.2, 0) and (0, 0.4) → 0, (1, 2) → 1 (d² 1 vs 5), (5, 1) → 2.
  const auto rows = torch::tensor({0.2, 0.0, 0.0, 0.4, 1.0, 2.0, 5.0, 1.0}).view({4, 2});
  const auto ids = q.nearest(rows);
  CATCH_REQUIRE(ids.equal(torch::tensor({0, 0, 1, 2}, torch::kLong)));
  CATCH_REQUIRE(q.update(rows, ids) == 0);
  // N = 0.5·1 + 0.5·(2, 1, 1) = (1.5, 1, 1), n = 3.5.
  // m0 = 0.5·(0, 0) + 0.5·(0.2, 0.4) = (0.1, 0.2); m1 = 0.5·(1, 1) + 0.5·(1, 2) = (1, 1.5);
  // m2 = 0.5·(4, 0) + 0.5·(5, 1) = (4.5, 0.5).
  // ñ_i = (N_i + 0.1) / (3.5 + 0.3) · 3.5: ñ0 = 5.6 / 3.8, ñ1 = ñ2 = 3.85 / 3.8.
  const double n0 = 5.6 / 3.8, n1 = 3.85 / 3.8;
  const double expected[3][2] = {{0.1 / n0, 0.2 / n0}, {1.0 / n1, 1.5 / n1}, {4.5 / n1, 0.5 / n1}};
  for (int k = 0; k < 3; ++k)
    for (int c = 0; c < 2; ++c) CATCH_REQUIRE(q.codebook[k][c].item<double>() == Approx(expected[k][c]).epsilon(1e-6));
  CATCH_REQUIRE(q.cluster_size[0].item<double>() == Approx(1.5));
  CATCH_REQUIRE(q.cluster_size[1].item<double>() == Approx(1.0));
  CATCH_REQUIRE(q.embed_sum[2][0].item<double>() == Approx(4.5));
  CATCH_REQUIRE(q.unused_steps.sum().item<std::int64_t>() == 0);
}

CATCH_TEST_CASE("a code unused for dead_code_steps steps is re-seeded from an encoder output of the batch") {
  torch::manual_seed(2);
  VectorQuantizerImpl q(4, 2, 0.9, 1e-5, 2);
  q.codebook.copy_(torch::tensor({0.0, 0.0, 10.0, 10.0, -10.0, 10.0, 10.0, -10.0}).view({4, 2}));
  q.embed_sum.copy_(q.codebook);
  // Every row is nearest to code 0, codes 1..3 are never used.
  const auto rows = torch::randn({16, 2}) * 0.1 + 0.5;
  auto ids = q.nearest(rows);
  CATCH_REQUIRE(ids.eq(0).all().item<bool>());
  CATCH_REQUIRE(q.update(rows, ids) == 0);  // one step unused: not yet dead
  CATCH_REQUIRE(q.unused_steps.equal(torch::tensor({0, 1, 1, 1}, torch::kLong)));
  const auto used_code = q.codebook[0].clone();
  ids = q.nearest(rows);
  CATCH_REQUIRE(q.update(rows, ids) == 3);  // second step: codes 1, 2, 3 restart
  for (std::int64_t k = 1; k < 4; ++k) {
    CATCH_INFO("code " << k);
    // The new entry is exactly one of the batch's rows, with a fresh cluster of one.
    CATCH_REQUIRE(rows.sub(q.codebook[k]).abs().sum(1).eq(0).any().item<bool>());
    CATCH_REQUIRE(q.embed_sum[k].equal(q.codebook[k]));
    CATCH_REQUIRE(q.cluster_size[k].item<double>() == 1.0);
    CATCH_REQUIRE(q.unused_steps[k].item<std::int64_t>() == 0);
  }
  // The live code only took its EMA step (it moved from its first-step value towards the rows' mean).
  CATCH_REQUIRE_FALSE(q.codebook[0].equal(used_code));
  CATCH_REQUIRE(rows.sub(q.codebook[0]).abs().sum(1).eq(0).any().item<bool>() == false);
  // After the restart the batch spreads over more than one code.
  const auto after = q.nearest(rows);
  CATCH_REQUIRE(std::get<0>(torch::_unique(after)).numel() > 1);

  // dead_code_steps = 0 never restarts.
  VectorQuantizerImpl never(4, 2, 0.9, 1e-5, 0);
  never.codebook.copy_(torch::zeros({4, 2}).index_fill_(0, torch::tensor({1, 2, 3}, torch::kLong), 50.0));
  never.embed_sum.copy_(never.codebook);
  for (int step = 0; step < 5; ++step) CATCH_REQUIRE(never.update(rows, never.nearest(rows)) == 0);
  CATCH_REQUIRE(never.unused_steps.equal(torch::tensor({0, 5, 5, 5}, torch::kLong)));
}

CATCH_TEST_CASE("a tiny 2D vq-vae trains through the trainer: reconstruction, codebook use, exact resume") {
  whatif_test::TempDir dir;
  const auto config = tiny_2d();
  Disks data(disks(64, 16, 7));
  const auto held_out = disks(32, 16, 999);

  whatif::TrainConfig train;
  train.steps = 250;
  train.lr = 2e-3;
  train.warmup = 20;
  train.ema_decay = 0;  // the codebook follows the live weights; no weight EMA to swap in
  train.seed = 3;
  train.label = "vq-vae";
  train.checkpoint = dir / "full.h5";

  const auto tokens = [&](VQVAEEncoder& model) {
    torch::NoGradGuard no_grad;
    return model.tokenize(held_out);
  };
  const auto image = [&](VQVAEEncoder& model, const torch::Tensor& ids) {
    torch::NoGradGuard no_grad;
    return model.detokenize(ids);
  };

  torch::manual_seed(8);
  VQVAEEncoder vq(config);
  vq.train(false);
  const double before = psnr(image(vq, tokens(vq)), held_out);
  const auto fit = whatif::fit_encoder(vq, data, train, 8);
  const auto ids = tokens(vq);
  const double after = psnr(image(vq, ids), held_out);
  const auto counts = torch::bincount(ids.flatten(), {}, config.codebook_size).to(torch::kDouble);
  const auto p = counts / counts.sum();
  const double perplexity = std::exp(-(p * (p + 1e-12).log()).sum().item<double>());
  const double used = (counts > 0).sum().item<double>();
  CATCH_WARN("held-out PSNR " << before << " dB before, " << after << " dB after " << train.steps
                              << " steps (fit's recon_psnr " << fit.recon_psnr << "); held-out codes used " << used
                              << "/" << config.codebook_size << ", perplexity " << perplexity
                              << "; last batch usage " << fit.logs.at("usage").back() << ", perplexity "
                              << fit.logs.at("perplexity").back() << "; training " << fit.train.seconds << " s");
  // Measured (seed 8, one thread): 7.4 → 25.9 dB, all 32 codes used, perplexity 25.3. Asserted: the
  // mean squared error falls more than 30× (15 dB), at least half the codebook is in use and the
  // code distribution is far from collapsed (perplexity > 8 of at most 32).
  CATCH_REQUIRE(after - before > 15.0);
  CATCH_REQUIRE(after > 23.0);
  CATCH_REQUIRE(used >= 16);
  CATCH_REQUIRE(perplexity > 8.0);
  for (const char* key : {"l1", "commitment", "usage", "perplexity", "psnr", "ssim", "restarted"})
    CATCH_REQUIRE(fit.logs.count(key) == 1);

  // A run interrupted half way and resumed from its checkpoint ends bit-identical to the straight
  // run: weights, codebook buffers (restarts draw from the per-step generator) and tokens. A
  // shorter run than the one above, with codes restarting in both halves.
  auto straight_config = train;
  straight_config.steps = 60;
  straight_config.checkpoint = dir / "straight.h5";
  torch::manual_seed(8);
  VQVAEEncoder straight(config);
  const auto straight_fit = whatif::fit_encoder(straight, data, straight_config, 8);
  const auto& restarts = straight_fit.logs.at("restarted");
  std::string restart_steps;
  for (std::size_t i = 0; i < restarts.size(); ++i)
    if (restarts[i] > 0) restart_steps += " " + std::to_string(i) + ":" + std::to_string(static_cast<int>(restarts[i]));
  CATCH_WARN("codes restarted at step:count" << restart_steps);
  CATCH_REQUIRE(std::accumulate(restarts.begin(), restarts.begin() + 30, 0.0) > 0);
  CATCH_REQUIRE(std::accumulate(restarts.begin() + 30, restarts.end(), 0.0) > 0);
  auto interrupted = straight_config;
  interrupted.checkpoint = dir / "interrupted.h5";
  interrupted.stop_after = 30;
  interrupted.checkpoint_every = 10;
  torch::manual_seed(8);
  VQVAEEncoder resumed(config);
  whatif::fit_encoder(resumed, data, interrupted, 8);
  interrupted.stop_after = -1;
  const auto second = whatif::fit_encoder(resumed, data, interrupted, 8);
  CATCH_REQUIRE(second.train.resumed_from == 30);
  CATCH_REQUIRE(tokens(resumed).equal(tokens(straight)));
  const auto other = resumed.named_buffers();
  for (const auto& [name, b] : straight.named_buffers()) {
    CATCH_INFO(name);
    const auto it = std::find_if(other.begin(), other.end(), [&](const auto& o) { return o.first == name; });
    CATCH_REQUIRE(it != other.end());
    CATCH_REQUIRE(it->second.equal(b));
  }
  const auto resumed_params = resumed.named_parameters();
  const auto straight_params = straight.named_parameters();
  for (std::size_t i = 0; i < straight_params.size(); ++i)
    CATCH_REQUIRE(resumed_params[i].second.equal(straight_params[i].second));

  // A fresh model with other initial weights loads the finished checkpoint through the trainer
  // (no step left to run) and tokenizes identically.
  torch::manual_seed(123);
  VQVAEEncoder loaded(config);
  CATCH_REQUIRE_FALSE(tokens(loaded).equal(ids));
  const auto reload = whatif::fit_encoder(loaded, data, train, 8);
  CATCH_REQUIRE(reload.train.resumed_from == train.steps);
  CATCH_REQUIRE(tokens(loaded).equal(ids));
  CATCH_REQUIRE(image(loaded, ids).equal(image(vq, ids)));
}

CATCH_TEST_CASE("tiled decoding of vq-vae latents: every tile quantises, and with local norms it matches whole") {
  torch::manual_seed(4);
  torch::NoGradGuard no_grad;
  const auto vq = make<Encoder>("encoder", "vq-vae",
                                {"spatial_dims=2", "channels=8,16,16", "groups=0", "codebook_size=16",
                                 "codebook_dim=3"});
  vq->train(false);
  const auto x = disks(2, 64, 5);
  const auto z = vq->encode(x);  // 16 × 16 latents
  const auto whole = vq->decode(z);
  // Each tile quantises its own latents, so tiling raw latents or their code vectors decodes the
  // same; only the decoder's context at tile borders differs from the whole pass.
  auto& model = dynamic_cast<VQVAEEncoder&>(*vq);
  const auto tiled = whatif::tiled_decode(*vq, z, whatif::Tiling{8, 4});
  CATCH_REQUIRE(tiled.sizes() == whole.sizes());
  CATCH_REQUIRE(tiled.equal(whatif::tiled_decode(*vq, model.codes(model.ids_of(z)), whatif::Tiling{8, 4})));
  const double spread = (whole - whole.mean()).abs().mean().item<double>();
  const double gap = (tiled - whole).abs().mean().item<double>() / spread;
  const double wider = (whatif::tiled_decode(*vq, z, whatif::Tiling{12, 8}) - whole).abs().mean().item<double>() / spread;
  CATCH_WARN("tiled vs whole decode, mean |gap| / mean |deviation|: tile 8 overlap 4 " << gap
                                                                                    << ", tile 12 overlap 8 " << wider);
  CATCH_REQUIRE(wider < gap);
  CATCH_REQUIRE(wider < 0.05);
  // One tile over the whole image is encode itself, and decodes as its tokens do.
  const auto ids = vq->tokenize(x);
  CATCH_REQUIRE(vq->decode(whatif::tiled_encode(*vq, x, whatif::Tiling{64, 0})).equal(vq->detokenize(ids)));
}

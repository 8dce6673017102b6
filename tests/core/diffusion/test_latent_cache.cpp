// The latent cache: a dataset encoded once into HDF5, tagged with the encoder's and the dataset's
// fingerprints; a current cache is read without touching the dataset, a stale one is rebuilt.
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>

#include <torch/torch.h>

#include "core/data/temp_dir.hpp"
#include "diffusion/latent_cache.hpp"
#include "support/plugins.hpp"
#include "whatif/encoder.hpp"

using whatif::Encoder;
using whatif::test::make;

namespace {

WHATIF_TEST_PLUGINS("encoders");

// Counts how often examples are read, so a cache hit can be told from a rebuild.
class Counted : public whatif::Dataset {
 public:
  explicit Counted(std::int64_t n) : n_(n) {}
  std::int64_t size() const override { return n_; }
  whatif::Example get(std::int64_t i) const override {
    ++reads;
    whatif::Example e;
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(i);
    e.image = at::randn({1, 8, 8, 8}, g);
    e.text = "example " + std::to_string(i);
    e.attributes["level"] = static_cast<double>(i % 3);
    if (i % 2 == 0) e.attributes["even_only"] = 1.0;
    return e;
  }
  std::vector<std::string> attribute_names() const override { return {"level"}; }
  mutable std::atomic<int> reads{0};

 private:
  std::int64_t n_;
};

}  // namespace

CATCH_TEST_CASE("latent cache: built once, read back without the dataset, rebuilt when stale") {
  whatif_test::TempDir dir;
  const std::string path = dir / "latents.h5";
  Counted data(5);
  const auto haar = make<Encoder>("encoder", "haar", {"spatial_dims=3"});

  const auto built = whatif::encode_dataset(*haar, data, path, 2);
  CATCH_REQUIRE_FALSE(built.from_cache);
  CATCH_REQUIRE(data.reads == 5);
  CATCH_REQUIRE(std::filesystem::exists(path));

  const auto read = whatif::encode_dataset(*haar, data, path, 2);
  CATCH_REQUIRE(read.from_cache);
  CATCH_REQUIRE(data.reads == 5);  // the dataset was not read again
  CATCH_REQUIRE(read.latents.size() == 5);
  for (std::size_t i = 0; i < 5; ++i) {
    CATCH_REQUIRE(at::equal(read.latents[i], built.latents[i]));
    CATCH_REQUIRE(read.texts[i] == built.texts[i]);
    CATCH_REQUIRE(read.attributes[i] == built.attributes[i]);  // absent attributes stay absent
  }
  CATCH_REQUIRE(read.image_shape == std::vector<std::int64_t>{1, 8, 8, 8});
  // The latents are the encoder's output.
  CATCH_REQUIRE(at::allclose(read.latents[3], haar->encode(data.get(3).image.unsqueeze(0))[0]));

  // Another encoder: the cache is stale and rebuilt with its latents.
  const auto identity = make<Encoder>("encoder", "identity");
  const int before = data.reads;
  const auto rebuilt = whatif::encode_dataset(*identity, data, path, 2);
  CATCH_REQUIRE_FALSE(rebuilt.from_cache);
  CATCH_REQUIRE(data.reads == before + 5);
  CATCH_REQUIRE(at::equal(rebuilt.latents[1], data.get(1).image));

  // Same learned encoder with changed weights: stale too.
  const auto vae = make<Encoder>("encoder", "kl-vae", {"spatial_dims=3", "channels=8,8", "downsample=2", "groups=0"});
  const std::string vae_path = dir / "vae.h5";
  CATCH_REQUIRE_FALSE(whatif::encode_dataset(*vae, data, vae_path).from_cache);
  CATCH_REQUIRE(whatif::encode_dataset(*vae, data, vae_path).from_cache);
  const std::string hash = whatif::encoder_hash(*vae);
  {
    at::NoGradGuard no_grad;
    vae->named_parameters().front().second.add_(0.01);
  }
  CATCH_REQUIRE(whatif::encoder_hash(*vae) != hash);
  CATCH_REQUIRE_FALSE(whatif::encode_dataset(*vae, data, vae_path).from_cache);

  // Another dataset (here: another size) makes it stale as well.
  Counted larger(6);
  CATCH_REQUIRE_FALSE(whatif::encode_dataset(*vae, larger, vae_path).from_cache);
}

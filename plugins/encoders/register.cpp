// Encoders: identity (pixel space), haar (the lossless wavelet front-end), kl-vae (a learned
// latent space) and vq-vae (a learned discrete one: image tokens).
#include <whatif/registry/plugin.hpp>
#include <whatif/registry/registry.hpp>

#include "haar.hpp"
#include "identity.hpp"
#include "kl_vae.hpp"
#include "vq_vae.hpp"

namespace {

void register_components(whatif::Registry& registry) {
  registry.add<whatif::Encoder>("encoder", "identity", "pixel space: the image is its own representation",
                                {}, [](const whatif::Options&) {
                                  return std::make_shared<whatif_encoders::IdentityEncoder>();
                                });
  registry.add<whatif::Encoder>(
      "encoder", "haar", "orthonormal Haar wavelet: 2^d channels at half size, exactly invertible",
      {{"spatial_dims", whatif::OptionType::Int, std::int64_t{3}, "2 or 3"}},
      [](const whatif::Options& o) {
        return std::make_shared<whatif_encoders::HaarEncoder>(o.get_int("spatial_dims"));
      });
  registry.add<whatif::Encoder>(
      "encoder", "kl-vae",
      "KL-regularised autoencoder (latent diffusion): Gaussian latents at 1/downsample size, 2D/3D",
      whatif_encoders::KLVAEConfig::schema(), [](const whatif::Options& o) {
        return std::make_shared<whatif_encoders::KLVAEEncoder>(whatif_encoders::KLVAEConfig::from(o));
      });
  registry.add<whatif::Encoder>(
      "encoder", "vq-vae",
      "vector-quantised autoencoder: codebook ids at 1/downsample size (image tokens), EMA codebook, 2D/3D",
      whatif_encoders::VQVAEConfig::schema(), [](const whatif::Options& o) {
        return std::make_shared<whatif_encoders::VQVAEEncoder>(whatif_encoders::VQVAEConfig::from(o));
      });
}

}  // namespace

WHATIF_PLUGIN("encoders", "0.1.0", register_components)

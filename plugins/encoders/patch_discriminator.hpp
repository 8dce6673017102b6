#pragma once
// The patch discriminator of the KL autoencoder's optional adversarial term: a PatchGAN (Isola et
// al. 2017) that gives one real/fake logit per overlapping patch, as in Esser et al. 2021 and
// Rombach et al. 2022, in 2D or 3D.
#include "vae_layers.hpp"

namespace whatif_encoders {

struct PatchDiscriminatorImpl : torch::nn::Module {
  PatchDiscriminatorImpl(int dims, std::int64_t in_channels, std::int64_t width, std::int64_t groups);
  // Logits [B, 1, *S/4]. `frozen` scores with detached weights, so that the generator's term of the
  // hinge loss trains the autoencoder and leaves the discriminator alone.
  torch::Tensor forward(const torch::Tensor& x, bool frozen = false);
  whatif::nn::Conv conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  whatif::nn::GroupNorm32 norm2{nullptr};
};
TORCH_MODULE(PatchDiscriminator);

}  // namespace whatif_encoders

#pragma once
// The KL-regularised autoencoder of latent diffusion (Rombach et al. 2022, after the VAE of Kingma &
// Welling 2014), in 2D or 3D: a convolutional encoder to a diagonal Gaussian posterior with
// `latent_channels` channels at 1/`downsample` of the size per axis, and a mirrored decoder. The
// loss is L1 reconstruction + kl_weight·KL(q(z|x) ‖ N(0, I)), optionally + (1 − MS-SSIM) and a
// hinge adversarial term with a patch discriminator. Diffusion sees `scale_factor`·μ(x): the
// factor, 1/std of the latents on data, gives them unit variance (Rombach et al. 2022, §G).
#include <map>
#include <string>

#include <whatif/encoder.hpp>
#include <whatif/registry/options.hpp>

#include "patch_discriminator.hpp"

namespace whatif_encoders {

struct KLVAEConfig {
  int spatial_dims = 3;
  std::int64_t in_channels = 1;
  std::int64_t latent_channels = 4;
  std::int64_t downsample = 4;  // per axis, a power of 2
  std::vector<std::int64_t> channels{32, 64, 64};  // one width per resolution: log2(downsample)+1
  std::int64_t res_blocks = 1;
  bool attention = false;  // self-attention in the bottleneck of encoder and decoder
  std::int64_t groups = 8;  // 0: per-voxel channel norm
  bool checkpointing = false;  // residual blocks recompute their activations in backward
  double kl_weight = 1e-6;
  double logvar_init = 0.0;  // the posterior's log-variance at initialisation
  double l2_weight = 0.0;
  double hard_weight = 0.0;     // weight of the mean squared error over each example's worst voxels
  double hard_fraction = 0.01;  // ... the fraction of voxels counted as worst
  double ms_ssim_weight = 0.0;
  double adversarial_weight = 0.0;
  double data_range = 1.0;  // of the images, for PSNR and SSIM

  static KLVAEConfig from(const whatif::Options& o);
  static whatif::Schema schema();
};

// q(z|x) = N(mean, exp(logvar)) per latent element.
struct DiagonalGaussian {
  at::Tensor mean, logvar;
  at::Tensor sample() const;  // reparameterised: mean + σ·ε (Kingma & Welling 2014, §2.4)
  // KL(q ‖ N(0, I)) = ½ Σ (μ² + σ² − 1 − log σ²) per example (Kingma & Welling 2014, App. B): [B].
  at::Tensor kl() const;
};

struct KLVAENetImpl : torch::nn::Module {
  explicit KLVAENetImpl(const KLVAEConfig& config);
  DiagonalGaussian encode(const torch::Tensor& x);
  torch::Tensor decode(const torch::Tensor& z);  // unscaled latents

  KLVAEConfig config;
  VaeTrunk trunk;  // encodes to mean and log-variance (2 × latent_channels), decodes latents
  PatchDiscriminator disc{nullptr};
  torch::Tensor scale_factor;
};
TORCH_MODULE(KLVAENet);

class KLVAEEncoder : public whatif::Encoder {
 public:
  explicit KLVAEEncoder(const KLVAEConfig& config);

  at::Tensor encode(const at::Tensor& x) override;  // scale_factor · posterior mean
  at::Tensor decode(const at::Tensor& z) override;  // decoder(z / scale_factor)
  std::vector<std::int64_t> latent_shape(const std::vector<std::int64_t>& input) const override;
  bool learnable() const override { return true; }
  // Draws z from the posterior with the global generator (the trainer seeds it per step).
  // logs: "l1", "kl" (nats per example), "psnr" (dB), "ssim"; with the options on, "ms_ssim",
  // "adv" (generator hinge term) and "disc" (discriminator hinge loss).
  at::Tensor loss(const at::Tensor& x, std::map<std::string, double>& logs) override;

  // Sets scale_factor to 1/std of the posterior means of `x` (all elements pooled), so that
  // encode() gives unit-variance latents on that data. Returns the factor.
  double estimate_scale(const at::Tensor& x);
  double calibrate(const at::Tensor& x) override { return estimate_scale(x); }
  DiagonalGaussian posterior(const at::Tensor& x);

  whatif::NamedTensors named_parameters() override;
  whatif::NamedTensors named_buffers() override;  // "scale_factor"
  void train(bool on) override { net_->train(on); }
  void to(const c10::Device& device) override { net_->to(device); }

 private:
  void check_input(const at::Tensor& x, const char* what) const;
  KLVAENet net_;
};

}  // namespace whatif_encoders

#pragma once
// The vector-quantised autoencoder (VQ-VAE, van den Oord et al. 2017), in 2D or 3D: a convolutional
// encoder to `codebook_dim` channels at 1/`downsample` of the size per axis, each latent vector
// replaced by its nearest codebook entry, and a mirrored decoder. The codebook learns by exponential
// moving averages (van den Oord et al. 2017, App. A.1) with Laplace-smoothed cluster sizes, not by
// gradient; codes unused for `dead_code_steps` training steps are re-seeded from encoder outputs
// of the batch (Dhariwal et al. 2020, Jukebox §3.2). Gradients pass the quantiser straight through.
// The loss is L1 reconstruction + β·‖z_e − sg(z_q)‖², optionally + (1 − MS-SSIM).
//
// As in the VQ-regularised autoencoders of latent diffusion (Rombach et al. 2022, App. G), encode()
// gives the continuous encoder output z_e and decode() quantises before decoding, so
// decode(encode(x)) is the VQ reconstruction and the sliding-window tiling of core works on it as on
// kl-vae's latents. tokenize() gives the ids of the nearest codes, detokenize() decodes their entries.
#include <map>
#include <string>

#include <whatif/encoder.hpp>
#include <whatif/registry/options.hpp>

#include "vae_layers.hpp"

namespace whatif_encoders {

struct VQVAEConfig {
  int spatial_dims = 3;
  std::int64_t in_channels = 1;
  std::int64_t codebook_size = 512;
  std::int64_t codebook_dim = 8;  // channels of the latent = length of a code vector
  std::int64_t downsample = 4;    // per axis, a power of 2
  std::vector<std::int64_t> channels{32, 64, 64};  // one width per resolution: log2(downsample)+1
  std::int64_t res_blocks = 1;
  std::int64_t groups = 8;  // 0: per-voxel channel norm
  bool checkpointing = false;  // residual blocks recompute their activations in backward
  double commitment_weight = 0.25;  // β of van den Oord et al. 2017, eq. 3
  double ema_decay = 0.99;          // γ of the codebook's moving averages
  double ema_epsilon = 1e-5;        // Laplace smoothing of the cluster sizes
  std::int64_t dead_code_steps = 100;  // re-seed a code unused this many steps; 0 = never
  double ms_ssim_weight = 0.0;
  double data_range = 1.0;  // of the images, for PSNR and SSIM

  static VQVAEConfig from(const whatif::Options& o);
  static whatif::Schema schema();
};

// The codebook and its moving averages, all registered buffers (checkpointed, restored on resume):
// `codebook` [K, D], `cluster_size` [K] (EMA of the assignment counts), `embed_sum` [K, D] (EMA of
// the sums of assigned vectors) and `unused_steps` [K] (training steps since a code was last used).
struct VectorQuantizerImpl : torch::nn::Module {
  VectorQuantizerImpl(std::int64_t codebook_size, std::int64_t codebook_dim, double decay, double epsilon,
                      std::int64_t dead_code_steps);
  // Nearest code of each row of `flat` [N, D] by squared Euclidean distance, in fp32: [N] int64.
  torch::Tensor nearest(const torch::Tensor& flat);
  // One EMA step on the rows `flat` [N, D] and their codes `ids` [N] (van den Oord et al. 2017,
  // eqs. 6–8, with ñ_i = (n_i + ε) / (n + Kε) · n), then the dead-code restart, which draws the
  // replacement rows from the global generator. Returns the number of codes re-seeded.
  std::int64_t update(const torch::Tensor& flat, const torch::Tensor& ids);

  double decay, epsilon;
  std::int64_t dead_code_steps;
  torch::Tensor codebook, cluster_size, embed_sum, unused_steps;
};
TORCH_MODULE(VectorQuantizer);

struct VQVAENetImpl : torch::nn::Module {
  explicit VQVAENetImpl(const VQVAEConfig& config);
  torch::Tensor encode(const torch::Tensor& x);   // z_e: [B, D, *S']
  torch::Tensor decode(const torch::Tensor& zq);  // decoder of quantised latents

  VQVAEConfig config;
  VaeTrunk trunk;  // encodes to codebook_dim channels, decodes quantised latents
  VectorQuantizer quantizer{nullptr};
};
TORCH_MODULE(VQVAENet);

class VQVAEEncoder : public whatif::Encoder {
 public:
  explicit VQVAEEncoder(const VQVAEConfig& config);

  at::Tensor encode(const at::Tensor& x) override;  // z_e, before quantisation
  at::Tensor decode(const at::Tensor& z) override;  // decoder(quantise(z))
  std::vector<std::int64_t> latent_shape(const std::vector<std::int64_t>& input) const override;
  bool learnable() const override { return true; }
  // L1 + β·commitment [+ ms_ssim_weight·(1 − MS-SSIM)]; in training mode also one EMA step of the
  // codebook (under no_grad). logs: "l1", "commitment", "usage" (fraction of the codebook used by
  // the batch), "perplexity" (exp of the entropy of the batch's code frequencies), "psnr" (dB),
  // "ssim", with the options on "ms_ssim", and in training "restarted" (codes re-seeded).
  at::Tensor loss(const at::Tensor& x, std::map<std::string, double>& logs) override;

  bool discrete() const override { return true; }
  std::int64_t codebook_size() const override { return net_->config.codebook_size; }
  at::Tensor tokenize(const at::Tensor& x) override;      // [B, C, *S] → [B, *S'] int64
  at::Tensor detokenize(const at::Tensor& ids) override;  // [B, *S'] → [B, C, *S]

  // Nearest-code ids of latents z [B, D, *S'] (encode's output, or a tiled encoding of it): [B, *S'].
  at::Tensor ids_of(const at::Tensor& z);
  // Code vectors of ids [B, *S'] as latents [B, D, *S'].
  at::Tensor codes(const at::Tensor& ids);
  VectorQuantizerImpl& quantizer() { return *net_->quantizer; }

  whatif::NamedTensors named_parameters() override;
  // "quantizer.codebook", "quantizer.cluster_size", "quantizer.embed_sum", "quantizer.unused_steps"
  whatif::NamedTensors named_buffers() override;
  void train(bool on) override { net_->train(on); }
  void to(const c10::Device& device) override { net_->to(device); }

 private:
  void check_input(const at::Tensor& x, const char* what) const;
  void check_latent(const at::Tensor& z, const char* what) const;
  VQVAENet net_;
};

}  // namespace whatif_encoders

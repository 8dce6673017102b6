#include "kl_vae.hpp"

#include <cmath>

#include <whatif/registry/error.hpp>

#include <whatif/nn/ssim.hpp>

namespace whatif_encoders {
namespace {

using whatif::OptionType;


}  // namespace

whatif::Schema KLVAEConfig::schema() {
  return {
      {"spatial_dims", OptionType::Int, std::int64_t{3}, "2 or 3"},
      {"in_channels", OptionType::Int, std::int64_t{1}, "image channels"},
      {"latent_channels", OptionType::Int, std::int64_t{4}, "channels of the latent"},
      {"downsample", OptionType::Int, std::int64_t{4}, "size reduction per axis, a power of 2"},
      {"channels", OptionType::IntList, std::vector<std::int64_t>{},
       "width per resolution, log2(downsample)+1 of them (empty = 32, then 64 per halving)"},
      {"res_blocks", OptionType::Int, std::int64_t{1}, "residual blocks per resolution"},
      {"attention", OptionType::Bool, false,
       "self-attention at the bottleneck (global: memory ∝ positions², and tiles cannot reproduce it)"},
      {"groups", OptionType::Int, std::int64_t{8},
       "GroupNorm groups; 0 = per-voxel channel norm (local: tiled decoding matches whole closely)"},
      checkpointing_option(),
      {"kl_weight", OptionType::Double, 1e-6, "weight of KL per input voxel against the mean L1"},
      {"logvar_init", OptionType::Double, 0.0,
       "initial posterior log-variance (the log-variance head starts with zero weights and this bias)"},
      {"l2_weight", OptionType::Double, 0.0,
       "weight of the mean squared error beside the L1 (0 = off): weights a voxel by its error"},
      {"hard_weight", OptionType::Double, 0.0,
       "weight of the mean squared error over each example's worst hard_fraction of voxels (0 = off)"},
      {"hard_fraction", OptionType::Double, 0.01, "fraction of voxels the hard term averages, in (0, 1]"},
      {"ms_ssim_weight", OptionType::Double, 0.0, "weight of 1 − MS-SSIM (0 = off)"},
      {"adversarial_weight", OptionType::Double, 0.0,
       "weight of the hinge generator term; > 0 adds a patch discriminator (0 = off)"},
      {"data_range", OptionType::Double, 1.0, "max − min of the images, for PSNR and SSIM"},
  };
}

KLVAEConfig KLVAEConfig::from(const whatif::Options& o) {
  KLVAEConfig c;
  c.spatial_dims = static_cast<int>(o.get_int("spatial_dims"));
  c.in_channels = o.get_int("in_channels");
  c.latent_channels = o.get_int("latent_channels");
  c.downsample = o.get_int("downsample");
  c.channels = o.get_ints("channels");
  c.res_blocks = o.get_int("res_blocks");
  c.attention = o.get_bool("attention");
  c.groups = o.get_int("groups");
  c.checkpointing = o.get_bool("checkpointing");
  c.kl_weight = o.get_double("kl_weight");
  c.logvar_init = o.get_double("logvar_init");
  c.l2_weight = o.get_double("l2_weight");
  c.hard_weight = o.get_double("hard_weight");
  c.hard_fraction = o.get_double("hard_fraction");
  c.ms_ssim_weight = o.get_double("ms_ssim_weight");
  c.adversarial_weight = o.get_double("adversarial_weight");
  c.data_range = o.get_double("data_range");
  if (c.spatial_dims != 2 && c.spatial_dims != 3) throw whatif::Error("option 'spatial_dims' must be 2 or 3");
  if (c.in_channels < 1 || c.latent_channels < 1 || c.res_blocks < 1)
    throw whatif::Error("options 'in_channels', 'latent_channels' and 'res_blocks' must be >= 1");
  if (c.groups < 0) throw whatif::Error("option 'groups' must be >= 0 (0 = per-voxel channel norm)");
  const std::int64_t halvings = c.downsample >= 1 ? log2_exact(c.downsample) : -1;
  if (halvings < 0)
    throw whatif::Error("option 'downsample' must be a power of 2, got " + std::to_string(c.downsample));
  if (c.channels.empty()) {
    c.channels.assign(static_cast<std::size_t>(halvings + 1), 64);
    c.channels.front() = 32;
  }
  if (static_cast<std::int64_t>(c.channels.size()) != halvings + 1)
    throw whatif::Error("option 'channels' needs log2(downsample)+1 = " + std::to_string(halvings + 1) +
                        " widths (one per resolution), got " + std::to_string(c.channels.size()));
  for (const auto ch : c.channels)
    if (ch <= 0 || (c.groups > 0 && ch % c.groups != 0))
      throw whatif::Error("option 'channels': every width must be positive and divisible by 'groups' (" +
                          std::to_string(c.groups) + "), got " + std::to_string(ch));
  if (c.kl_weight < 0 || c.l2_weight < 0 || c.hard_weight < 0 || c.ms_ssim_weight < 0 || c.adversarial_weight < 0)
    throw whatif::Error(
        "options 'kl_weight', 'l2_weight', 'hard_weight', 'ms_ssim_weight' and 'adversarial_weight' must be >= 0");
  if (!(c.hard_fraction > 0 && c.hard_fraction <= 1))
    throw whatif::Error("option 'hard_fraction' must be in (0, 1], got " + std::to_string(c.hard_fraction));
  if (!(c.data_range > 0)) throw whatif::Error("option 'data_range' must be > 0");
  return c;
}

at::Tensor DiagonalGaussian::sample() const {
  return mean + torch::exp(0.5 * logvar) * torch::randn_like(mean);
}

at::Tensor DiagonalGaussian::kl() const {
  const auto m = mean.to(torch::kFloat), lv = logvar.to(torch::kFloat);
  return 0.5 * (m.square() + lv.exp() - 1 - lv).flatten(1).sum(1);
}

KLVAENetImpl::KLVAENetImpl(const KLVAEConfig& c) : config(c) {
  trunk.build(*this, VaeTrunkShape{c.spatial_dims, c.in_channels, c.channels, c.res_blocks, c.groups, c.attention,
                                   2 * c.latent_channels, c.latent_channels, c.checkpointing});
  {
    torch::NoGradGuard no_grad;
    trunk.enc_out->weight.narrow(0, c.latent_channels, c.latent_channels).zero_();
    trunk.enc_out->bias.narrow(0, c.latent_channels, c.latent_channels).fill_(c.logvar_init);
  }
  if (c.adversarial_weight > 0)
    disc = register_module("disc", PatchDiscriminator(c.spatial_dims, c.in_channels, c.channels.front(), c.groups));
  scale_factor = register_buffer("scale_factor", torch::ones({1}));
}

DiagonalGaussian KLVAENetImpl::encode(const torch::Tensor& x) {
  const auto parts = trunk.encode(x).chunk(2, 1);
  // The clamp keeps exp(logvar) finite early in training, as in Rombach et al.'s implementation.
  return {parts[0], parts[1].clamp(-30.0, 20.0)};
}

torch::Tensor KLVAENetImpl::decode(const torch::Tensor& z) { return trunk.decode(z); }

KLVAEEncoder::KLVAEEncoder(const KLVAEConfig& config) : net_(config) {}

void KLVAEEncoder::check_input(const at::Tensor& x, const char* what) const {
  check_vae_input("kl-vae", net_->trunk.shape, net_->config.downsample, x, what);
}

DiagonalGaussian KLVAEEncoder::posterior(const at::Tensor& x) {
  check_input(x, "encode");
  return net_->encode(x);
}

at::Tensor KLVAEEncoder::encode(const at::Tensor& x) {
  return posterior(x).mean * net_->scale_factor.to(x.scalar_type());
}

at::Tensor KLVAEEncoder::decode(const at::Tensor& z) {
  const auto& c = net_->config;
  if (z.dim() != c.spatial_dims + 2 || z.size(1) != c.latent_channels)
    throw whatif::Error("kl-vae: decode expects [B, " + std::to_string(c.latent_channels) + ", " +
                        (c.spatial_dims == 3 ? "D, H, W]" : "H, W]") + " latents");
  return net_->decode(z / net_->scale_factor.to(z.scalar_type()));
}

std::vector<std::int64_t> KLVAEEncoder::latent_shape(const std::vector<std::int64_t>& input) const {
  const auto& c = net_->config;
  return vae_latent_shape("kl-vae", net_->trunk.shape, c.downsample, c.latent_channels, input);
}

at::Tensor KLVAEEncoder::loss(const at::Tensor& x, std::map<std::string, double>& logs) {
  const auto& c = net_->config;
  const DiagonalGaussian q = posterior(x);
  const auto recon = net_->decode(q.sample()).to(torch::kFloat);
  const auto target = x.to(torch::kFloat);
  const auto l1 = (recon - target).abs().mean();
  const auto kl = q.kl().mean();
  // KL is summed over the latent, L1 averaged over voxels: dividing KL by the voxels per example
  // makes kl_weight the weight of Rombach et al.'s summed formulation (1e-6 there).
  auto total = l1 + c.kl_weight / static_cast<double>(x[0].numel()) * kl;
  // The squared error's gradient grows with a voxel's error where the L1's is its sign: a rare, large
  // residual (a one-voxel lesion the decoder smooths away) pulls as hard as many small ones.
  const auto per_voxel = (recon - target).square();
  const auto squared = per_voxel.mean();
  if (c.l2_weight > 0) total = total + c.l2_weight * squared;
  // Hard-voxel mining (the bootstrapped loss of Wu et al. 2016): a lesion is ~0.1 % of a volume,
  // so even its full squared error is a small part of the mean; averaging only each example's worst
  // voxels makes the few large residuals the term's whole gradient.
  if (c.hard_weight > 0) {
    const auto per_example = per_voxel.flatten(1);
    const auto k = std::max<std::int64_t>(
        1, std::llround(c.hard_fraction * static_cast<double>(per_example.size(1))));
    const auto hard = std::get<0>(per_example.topk(k, 1)).mean();
    total = total + c.hard_weight * hard;
    logs["hard"] = hard.item<double>();
  }
  logs["l1"] = l1.item<double>();
  logs["kl"] = kl.item<double>();
  {
    torch::NoGradGuard no_grad;
    const double mse = squared.item<double>();
    logs["psnr"] = 10.0 * std::log10(c.data_range * c.data_range / std::max(mse, 1e-20));
    logs["ssim"] = whatif::nn::ssim(recon.to(torch::kFloat), target.to(torch::kFloat), c.data_range).mean().item<double>();
  }
  if (c.ms_ssim_weight > 0) {
    // Scales while the coarsest still holds a whole window; the floor keeps the gradient finite.
    const auto side = whatif::nn::smallest_side(recon);
    const auto ms = whatif::nn::ms_ssim(recon.to(torch::kFloat), target.to(torch::kFloat), c.data_range,
                                        whatif::nn::ms_ssim_scales(side, whatif::nn::ssim_window(side)), 1e-6)
                        .mean();
    total = total + c.ms_ssim_weight * (1 - ms);
    logs["ms_ssim"] = ms.item<double>();
  }
  if (c.adversarial_weight > 0) {
    // Hinge objective (Lim & Ye 2017) as in Esser et al. 2021: the discriminator minimises
    // E[relu(1 − D(x))] + E[relu(1 + D(x̂))] on detached reconstructions; the autoencoder minimises
    // −E[D(x̂)] through a frozen discriminator. One optimiser step thus trains both sides.
    const auto generator = -net_->disc(recon, true).mean();
    const auto discriminator = torch::relu(1 - net_->disc(target)).mean() +
                               torch::relu(1 + net_->disc(recon.detach())).mean();
    total = total + c.adversarial_weight * generator + discriminator;
    logs["adv"] = generator.item<double>();
    logs["disc"] = discriminator.item<double>();
  }
  return total;
}

double KLVAEEncoder::estimate_scale(const at::Tensor& x) {
  torch::NoGradGuard no_grad;
  const double sd = posterior(x).mean.to(torch::kDouble).std().item<double>();
  if (!std::isfinite(sd) || sd <= 0)
    throw whatif::Error("kl-vae: cannot estimate the latent scale: the latents of the given data have std " +
                        std::to_string(sd) + " (pass more than one voxel of real data)");
  net_->scale_factor.fill_(1.0 / sd);
  return 1.0 / sd;
}

whatif::NamedTensors KLVAEEncoder::named_parameters() { return whatif::nn::named_tensors(net_->named_parameters(true)); }
whatif::NamedTensors KLVAEEncoder::named_buffers() { return whatif::nn::named_tensors(net_->named_buffers(true)); }

}  // namespace whatif_encoders

#include "vq_vae.hpp"

#include <algorithm>
#include <cmath>

#include <ATen/autocast_mode.h>

#include <whatif/nn/ssim.hpp>
#include <whatif/registry/error.hpp>

namespace whatif_encoders {
namespace {

using whatif::OptionType;

// Code assignment must not depend on the training run's bf16 switch: the distances are computed
// with autocast off (a bf16 matmul would flip near ties and make tokens precision-dependent).
class NoAutocast {
 public:
  NoAutocast() : cpu_(at::autocast::is_cpu_enabled()), gpu_(at::autocast::is_enabled()) {
    at::autocast::set_cpu_enabled(false);
    at::autocast::set_enabled(false);
  }
  ~NoAutocast() {
    at::autocast::set_cpu_enabled(cpu_);
    at::autocast::set_enabled(gpu_);
  }
  NoAutocast(const NoAutocast&) = delete;
  NoAutocast& operator=(const NoAutocast&) = delete;

 private:
  bool cpu_, gpu_;
};

// [B, D, *S] ↔ [B·ΠS, D]: the latent vectors as rows.
torch::Tensor to_rows(const torch::Tensor& z) {
  std::vector<std::int64_t> order{0};
  for (std::int64_t a = 2; a < z.dim(); ++a) order.push_back(a);
  order.push_back(1);
  return z.permute(order).reshape({-1, z.size(1)});
}

torch::Tensor from_rows(const torch::Tensor& rows, torch::IntArrayRef grid) {
  std::vector<std::int64_t> shape(grid.begin(), grid.end());
  shape.push_back(rows.size(1));
  const auto dims = static_cast<std::int64_t>(shape.size());
  std::vector<std::int64_t> order{0, dims - 1};
  for (std::int64_t a = 1; a < dims - 1; ++a) order.push_back(a);
  return rows.reshape(shape).permute(order).contiguous();
}

}  // namespace

whatif::Schema VQVAEConfig::schema() {
  return {
      {"spatial_dims", OptionType::Int, std::int64_t{3}, "2 or 3"},
      {"in_channels", OptionType::Int, std::int64_t{1}, "image channels"},
      {"codebook_size", OptionType::Int, std::int64_t{512}, "number of codes K (the image vocabulary)"},
      {"codebook_dim", OptionType::Int, std::int64_t{8}, "length of a code vector = channels of the latent"},
      {"downsample", OptionType::Int, std::int64_t{4}, "size reduction per axis, a power of 2"},
      {"channels", OptionType::IntList, std::vector<std::int64_t>{},
       "width per resolution, log2(downsample)+1 of them (empty = 32, then 64 per halving)"},
      {"res_blocks", OptionType::Int, std::int64_t{1}, "residual blocks per resolution"},
      {"groups", OptionType::Int, std::int64_t{8},
       "GroupNorm groups; 0 = per-voxel channel norm (local: tiled decoding matches whole closely)"},
      checkpointing_option(),
      {"commitment_weight", OptionType::Double, 0.25, "β: weight of the commitment term ‖z_e − sg(z_q)‖²"},
      {"ema_decay", OptionType::Double, 0.99, "decay of the codebook's moving averages, in [0, 1)"},
      {"ema_epsilon", OptionType::Double, 1e-5, "Laplace smoothing of the codes' cluster sizes, > 0"},
      {"dead_code_steps", OptionType::Int, std::int64_t{100},
       "re-seed a code from the batch's encoder outputs after this many training steps unused (0 = never)"},
      {"ms_ssim_weight", OptionType::Double, 0.0, "weight of 1 − MS-SSIM (0 = off)"},
      {"data_range", OptionType::Double, 1.0, "max − min of the images, for PSNR and SSIM"},
  };
}

VQVAEConfig VQVAEConfig::from(const whatif::Options& o) {
  VQVAEConfig c;
  c.spatial_dims = static_cast<int>(o.get_int("spatial_dims"));
  c.in_channels = o.get_int("in_channels");
  c.codebook_size = o.get_int("codebook_size");
  c.codebook_dim = o.get_int("codebook_dim");
  c.downsample = o.get_int("downsample");
  c.channels = o.get_ints("channels");
  c.res_blocks = o.get_int("res_blocks");
  c.groups = o.get_int("groups");
  c.checkpointing = o.get_bool("checkpointing");
  c.commitment_weight = o.get_double("commitment_weight");
  c.ema_decay = o.get_double("ema_decay");
  c.ema_epsilon = o.get_double("ema_epsilon");
  c.dead_code_steps = o.get_int("dead_code_steps");
  c.ms_ssim_weight = o.get_double("ms_ssim_weight");
  c.data_range = o.get_double("data_range");
  if (c.spatial_dims != 2 && c.spatial_dims != 3) throw whatif::Error("option 'spatial_dims' must be 2 or 3");
  if (c.in_channels < 1 || c.codebook_dim < 1 || c.res_blocks < 1)
    throw whatif::Error("options 'in_channels', 'codebook_dim' and 'res_blocks' must be >= 1");
  if (c.codebook_size < 2)
    throw whatif::Error("option 'codebook_size' must be >= 2, got " + std::to_string(c.codebook_size));
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
  if (c.commitment_weight < 0 || c.ms_ssim_weight < 0)
    throw whatif::Error("options 'commitment_weight' and 'ms_ssim_weight' must be >= 0");
  if (!(c.ema_decay >= 0 && c.ema_decay < 1))
    throw whatif::Error("option 'ema_decay' must be in [0, 1), got " + std::to_string(c.ema_decay));
  if (!(c.ema_epsilon > 0)) throw whatif::Error("option 'ema_epsilon' must be > 0");
  if (c.dead_code_steps < 0) throw whatif::Error("option 'dead_code_steps' must be >= 0 (0 = never restart)");
  if (!(c.data_range > 0)) throw whatif::Error("option 'data_range' must be > 0");
  return c;
}

VectorQuantizerImpl::VectorQuantizerImpl(std::int64_t codebook_size, std::int64_t codebook_dim, double decay_,
                                         double epsilon_, std::int64_t dead_code_steps_)
    : decay(decay_), epsilon(epsilon_), dead_code_steps(dead_code_steps_) {
  // Unit-variance entries: the scale of the encoder's outputs at initialisation. The moving
  // averages start from the codebook with a count of one each, so an entry moves to its cluster's
  // mean at the rate the decay sets.
  codebook = register_buffer("codebook", torch::randn({codebook_size, codebook_dim}));
  cluster_size = register_buffer("cluster_size", torch::ones({codebook_size}));
  embed_sum = register_buffer("embed_sum", codebook.clone());
  unused_steps = register_buffer("unused_steps", torch::zeros({codebook_size}, torch::kLong));
}

torch::Tensor VectorQuantizerImpl::nearest(const torch::Tensor& flat) {
  NoAutocast no_autocast;
  const auto z = flat.to(torch::kFloat);
  // ‖z − e‖² = ‖z‖² − 2 z·e + ‖e‖²; ‖z‖² is the same for every code of a row, so it is left out.
  const auto distances = codebook.square().sum(1).unsqueeze(0) - 2 * torch::matmul(z, codebook.t());
  return distances.argmin(1);
}

std::int64_t VectorQuantizerImpl::update(const torch::Tensor& flat, const torch::Tensor& ids) {
  torch::NoGradGuard no_grad;
  NoAutocast no_autocast;
  const auto z = flat.detach().to(torch::kFloat);
  const std::int64_t k = codebook.size(0);
  const auto one_hot = torch::zeros({z.size(0), k}, z.options()).scatter_(1, ids.unsqueeze(1), 1.0);
  const auto counts = one_hot.sum(0);
  // van den Oord et al. 2017, eqs. 6–8: N_i ← γ N_i + (1 − γ) n_i, m_i ← γ m_i + (1 − γ) Σ_j z_j,
  // e_i = m_i / N_i, with N_i Laplace-smoothed so an empty cluster never divides by zero.
  cluster_size.mul_(decay).add_(counts, 1 - decay);
  embed_sum.mul_(decay).add_(torch::matmul(one_hot.t(), z), 1 - decay);
  const auto n = cluster_size.sum();
  const auto smoothed = (cluster_size + epsilon) / (n + static_cast<double>(k) * epsilon) * n;
  codebook.copy_(embed_sum / smoothed.unsqueeze(1));

  unused_steps.add_(1).masked_fill_(counts > 0, 0);
  if (dead_code_steps <= 0) return 0;
  const auto dead = (unused_steps >= dead_code_steps).nonzero().flatten();
  const std::int64_t restarted = dead.numel();
  if (restarted == 0) return 0;
  // Jukebox (Dhariwal et al. 2020, §3.2): a dead code restarts at a random encoder output of the
  // batch, with a cluster of one, so it competes for that region of latent space from the next step.
  const auto rows = z.index_select(0, torch::randint(z.size(0), {restarted}, torch::TensorOptions(torch::kLong)));
  codebook.index_copy_(0, dead, rows);
  embed_sum.index_copy_(0, dead, rows);
  cluster_size.index_fill_(0, dead, 1.0);
  unused_steps.index_fill_(0, dead, 0);
  return restarted;
}

VQVAENetImpl::VQVAENetImpl(const VQVAEConfig& c) : config(c) {
  trunk.build(*this, VaeTrunkShape{c.spatial_dims, c.in_channels, c.channels, c.res_blocks, c.groups, false,
                                   c.codebook_dim, c.codebook_dim, c.checkpointing});
  quantizer = register_module("quantizer", VectorQuantizer(c.codebook_size, c.codebook_dim, c.ema_decay,
                                                           c.ema_epsilon, c.dead_code_steps));
}

torch::Tensor VQVAENetImpl::encode(const torch::Tensor& x) { return trunk.encode(x); }

torch::Tensor VQVAENetImpl::decode(const torch::Tensor& zq) { return trunk.decode(zq); }

VQVAEEncoder::VQVAEEncoder(const VQVAEConfig& config) : net_(config) {}

void VQVAEEncoder::check_input(const at::Tensor& x, const char* what) const {
  check_vae_input("vq-vae", net_->trunk.shape, net_->config.downsample, x, what);
}

void VQVAEEncoder::check_latent(const at::Tensor& z, const char* what) const {
  const auto& c = net_->config;
  if (z.dim() != c.spatial_dims + 2 || z.size(1) != c.codebook_dim)
    throw whatif::Error(std::string("vq-vae: ") + what + " expects [B, " + std::to_string(c.codebook_dim) + ", " +
                        (c.spatial_dims == 3 ? "D, H, W]" : "H, W]") + " latents (option 'codebook_dim')");
}

at::Tensor VQVAEEncoder::encode(const at::Tensor& x) {
  check_input(x, "encode");
  return net_->encode(x);
}

at::Tensor VQVAEEncoder::ids_of(const at::Tensor& z) {
  check_latent(z, "ids_of");
  std::vector<std::int64_t> grid{z.size(0)};
  for (std::int64_t a = 2; a < z.dim(); ++a) grid.push_back(z.size(a));
  return net_->quantizer->nearest(to_rows(z)).view(grid);
}

at::Tensor VQVAEEncoder::codes(const at::Tensor& ids) {
  const auto& c = net_->config;
  if (ids.dim() != c.spatial_dims + 1 || ids.scalar_type() != torch::kLong)
    throw whatif::Error("vq-vae: token ids must be an int64 [B, " + std::string(c.spatial_dims == 3 ? "D, H, W" : "H, W") +
                        "] grid, got " + std::to_string(ids.dim()) + " dimensions of " +
                        std::string(c10::toString(ids.scalar_type())));
  if (ids.numel() > 0) {
    const auto lo = ids.min().item<std::int64_t>(), hi = ids.max().item<std::int64_t>();
    if (lo < 0 || hi >= c.codebook_size)
      throw whatif::Error("vq-vae: token ids must lie in [0, " + std::to_string(c.codebook_size) +
                          ") (option 'codebook_size'), got " + std::to_string(lo < 0 ? lo : hi));
  }
  const auto rows = net_->quantizer->codebook.index_select(0, ids.flatten());
  return from_rows(rows, ids.sizes());
}

at::Tensor VQVAEEncoder::decode(const at::Tensor& z) {
  check_latent(z, "decode");
  return net_->decode(codes(ids_of(z)).to(z.scalar_type()));
}

at::Tensor VQVAEEncoder::tokenize(const at::Tensor& x) { return ids_of(encode(x)); }

at::Tensor VQVAEEncoder::detokenize(const at::Tensor& ids) { return net_->decode(codes(ids)); }

std::vector<std::int64_t> VQVAEEncoder::latent_shape(const std::vector<std::int64_t>& input) const {
  const auto& c = net_->config;
  return vae_latent_shape("vq-vae", net_->trunk.shape, c.downsample, c.codebook_dim, input);
}

at::Tensor VQVAEEncoder::loss(const at::Tensor& x, std::map<std::string, double>& logs) {
  const auto& c = net_->config;
  auto& quantizer = *net_->quantizer;
  const auto z = encode(x);
  const auto rows = to_rows(z);
  const auto ids = quantizer.nearest(rows);
  std::vector<std::int64_t> grid{z.size(0)};
  for (std::int64_t a = 2; a < z.dim(); ++a) grid.push_back(z.size(a));
  const auto zq = from_rows(quantizer.codebook.index_select(0, ids), grid);
  const auto ze = z.to(torch::kFloat);
  // van den Oord et al. 2017, eq. 3 without the codebook term (the EMA replaces it): the encoder
  // commits to its code; the decoder's gradient reaches the encoder straight through z_q.
  const auto commitment = (ze - zq).square().mean();
  const auto straight_through = ze + (zq - ze).detach();
  const auto recon = net_->decode(straight_through.to(z.scalar_type())).to(torch::kFloat);
  const auto target = x.to(torch::kFloat);
  const auto l1 = (recon - target).abs().mean();
  auto total = l1 + c.commitment_weight * commitment;
  {
    torch::NoGradGuard no_grad;
    const auto counts = torch::bincount(ids, {}, c.codebook_size).to(torch::kDouble);
    const auto p = counts / counts.sum();
    logs["usage"] = (counts > 0).sum().item<double>() / static_cast<double>(c.codebook_size);
    logs["perplexity"] = std::exp(-(p * (p + 1e-12).log()).sum().item<double>());
    const double mse = (recon - target).square().mean().item<double>();
    logs["psnr"] = 10.0 * std::log10(c.data_range * c.data_range / std::max(mse, 1e-20));
    logs["ssim"] = whatif::nn::ssim(recon, target, c.data_range).mean().item<double>();
  }
  logs["l1"] = l1.item<double>();
  logs["commitment"] = commitment.item<double>();
  if (c.ms_ssim_weight > 0) {
    // Scales while the coarsest still holds a whole window; the floor keeps the gradient finite.
    const auto side = whatif::nn::smallest_side(recon);
    const auto ms = whatif::nn::ms_ssim(recon, target, c.data_range,
                                        whatif::nn::ms_ssim_scales(side, whatif::nn::ssim_window(side)), 1e-6)
                        .mean();
    total = total + c.ms_ssim_weight * (1 - ms);
    logs["ms_ssim"] = ms.item<double>();
  }
  // The codebook learns from this batch's assignments on the training path only; evaluation
  // (is_training() false) leaves every buffer as it is.
  if (net_->is_training()) logs["restarted"] = static_cast<double>(quantizer.update(rows, ids));
  return total;
}

whatif::NamedTensors VQVAEEncoder::named_parameters() { return whatif::nn::named_tensors(net_->named_parameters(true)); }
whatif::NamedTensors VQVAEEncoder::named_buffers() { return whatif::nn::named_tensors(net_->named_buffers(true)); }

}  // namespace whatif_encoders

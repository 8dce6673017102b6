// Denoisers: the U-Net and its transformer-bottleneck variant, the U-ViT.
#include <whatif/registry/plugin.hpp>
#include <whatif/registry/registry.hpp>

#include "unet.hpp"

namespace {

using whatif::OptionType;
using Ints = std::vector<std::int64_t>;

whatif::Schema unet_schema(std::int64_t transformer_blocks) {
  whatif::Schema schema{
      {"spatial_dims", OptionType::Int, std::int64_t{3}, "2 or 3"},
      {"in_channels", OptionType::Int, std::int64_t{1}, "channels of x_t (8 for 3D haar of one channel)"},
      {"out_channels", OptionType::Int, std::int64_t{0}, "prediction channels (0 = in_channels)"},
      {"channels", OptionType::IntList, Ints{32, 64, 64}, "width per level; each level halves the size"},
      {"res_blocks", OptionType::Int, std::int64_t{1}, "residual blocks per level"},
      {"attention_levels", OptionType::IntList, Ints{-1}, "levels with self-attention (0 = full size, -1 = lowest)"},
      {"cross_attention_levels", OptionType::IntList, Ints{-1}, "levels attending to context tokens"},
      {"dropout", OptionType::Double, 0.0, "dropout probability"},
      {"dropout_levels", OptionType::IntList, Ints{}, "levels with dropout (default: the lowest)"},
      {"context_dim", OptionType::Int, std::int64_t{0}, "width of context tokens (0 = no cross-attention)"},
      {"vector_dim", OptionType::Int, std::int64_t{0}, "width of the FiLM vector (0 = none)"},
      {"spatial_channels", OptionType::Int, std::int64_t{0}, "channels of a concatenated spatial condition"},
      {"groups", OptionType::Int, std::int64_t{8}, "GroupNorm groups"},
      {"heads", OptionType::Int, std::int64_t{4}, "attention heads"},
      {"checkpointing", OptionType::Bool, false,
       "recompute each residual block in backward instead of keeping its activations (less memory, ~1/3 more time)"},
  };
  if (transformer_blocks > 0)
    schema.push_back({"transformer_blocks", OptionType::Int, transformer_blocks,
                      "transformer blocks at the lowest resolution"});
  else
    schema.push_back({"bottleneck_blocks", OptionType::Int, std::int64_t{1},
                      "residual blocks at the bottleneck (Simple Diffusion: deeper)"});
  return schema;
}

void register_components(whatif::Registry& registry) {
  registry.add<whatif::Denoiser>(
      "denoiser", "unet", "2D/3D U-Net: res-blocks, attention, cross-attention, FiLM, concat",
      unet_schema(0), [](const whatif::Options& o) {
        return std::make_shared<whatif_denoisers::UNetDenoiser>(whatif_denoisers::UNetConfig::from(o));
      });
  registry.add<whatif::Denoiser>(
      "denoiser", "uvit", "U-Net with a transformer bottleneck (U-ViT)", unet_schema(4),
      [](const whatif::Options& o) {
        return std::make_shared<whatif_denoisers::UNetDenoiser>(whatif_denoisers::UNetConfig::from(o));
      });
}

}  // namespace

WHATIF_PLUGIN("denoisers", "0.1.0", register_components)

// The `diffusion` model family: whatif.diffusion{encoder =, denoiser =, schedule =, sampler =,
// conditioning =, text =, target =, weighting =, mask_weight =, ...}.
#include <cmath>

#include "diffusion/diffusion_model.hpp"
#include "whatif/model_family.hpp"

namespace whatif {

ModelFamily diffusion_family() {
  ModelFamily f;
  f.name = "diffusion";
  f.doc = "DiffusionModel{encoder, denoiser, schedule, sampler, conditioning, text}: pixel or latent "
          "diffusion with classifier-free guidance; counterfactuals by fixed-noise or inversion";
  f.parts = {"encoder", "denoiser", "schedule", "sampler", "conditioning", "text"};
  const ProcessConfig defaults;
  f.options = {
      {"target", OptionType::String, std::string(to_string(defaults.target)), "eps | x | v | flow"},
      {"weighting", OptionType::String, std::string(to_string(defaults.weighting)), "uniform | min-snr | sigmoid"},
      {"min_snr_gamma", OptionType::Double, defaults.min_snr_gamma, "γ of min-SNR weighting"},
      {"sigmoid_bias", OptionType::Double, defaults.sigmoid_bias, "b of sigmoid weighting"},
      {"multiscale", OptionType::Int, defaults.multiscale, "extra coarser scales in the loss"},
      {"mask_weight", OptionType::Double, defaults.mask_weight,
       "λ: voxels inside the dataset's mask weigh 1 + λ in the loss (0: masks unused)"},
  };
  f.sampling = {"seed", "steps", "guidance", "t_start"};
  f.make = [](const ModelParts& p) -> std::shared_ptr<Model> {
    DiffusionParts parts;
    parts.encoder = p.get<Encoder>("encoder", true);
    parts.denoiser = p.get<Denoiser>("denoiser", true);
    parts.schedule = p.get<Schedule>("schedule", true);
    parts.sampler = p.get<Sampler>("sampler", true);
    parts.conditioning = p.get<Conditioning>("conditioning", false);
    parts.text = p.get<TextEncoder>("text", false);
    ProcessConfig config;
    config.target = parse_target(p.options.get_string("target"));
    config.weighting = parse_weighting(p.options.get_string("weighting"));
    config.min_snr_gamma = p.options.get_double("min_snr_gamma");
    config.sigmoid_bias = p.options.get_double("sigmoid_bias");
    config.multiscale = p.options.get_int("multiscale");
    config.mask_weight = p.options.get_double("mask_weight");
    if (!(config.mask_weight >= 0) || !std::isfinite(config.mask_weight))
      throw Error("diffusion: option 'mask_weight' must be a number ≥ 0");
    return std::make_shared<DiffusionModel>(std::move(parts), config);
  };
  return f;
}

}  // namespace whatif

#pragma once
// DiffusionModel{encoder, denoiser, schedule, conditioning, sampler}: pixel-space diffusion is
// encoder = identity (or haar), latent diffusion the same code with a learned encoder. Trains
// through the common Trainer, generates with classifier-free guidance, and makes counterfactuals
// by the fixed-noise and inversion protocols (DESIGN.md §6).
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "diffusion/process.hpp"
#include "train/trainer.hpp"
#include "whatif/conditioning.hpp"
#include "whatif/dataset.hpp"
#include "whatif/denoiser.hpp"
#include "whatif/encoder.hpp"
#include "whatif/sampler.hpp"
#include "whatif/schedule.hpp"
#include "whatif/text.hpp"

namespace whatif {

struct DiffusionParts {
  std::shared_ptr<Encoder> encoder;
  std::shared_ptr<Denoiser> denoiser;
  std::shared_ptr<Schedule> schedule;
  std::shared_ptr<Sampler> sampler;
  std::shared_ptr<Conditioning> conditioning;  // optional: unconditional without it
  std::shared_ptr<TextEncoder> text;           // optional: for text conditioning
};

struct FitOptions {
  TrainConfig train;
  std::int64_t batch_size = 8;
  std::string tokenizer_dir;  // where the text encoder writes its tokenizer files
  std::string latent_cache;   // HDF5 cache of the encoded dataset (latent_cache.hpp); "" = memory
  std::vector<std::string> attributes;  // the dataset attributes the conditioning sees, in order; {} = all
};

struct GenerateOptions {
  std::vector<std::string> prompts;                     // one sample per prompt, or
  std::vector<std::map<std::string, double>> attributes; // one sample per attribute set, or
  std::int64_t count = 0;                                // unconditional samples
  std::uint64_t seed = 0;
  double guidance = 1.0;
  std::int64_t steps = 50;
  double t_start = 1.0;
  std::int64_t decode_tile = 0;     // > 0: decode tile by tile (latent voxels per tile side)
  std::int64_t decode_overlap = 4;  // overlap of neighbouring tiles, latent voxels
};

class DiffusionModel {
 public:
  DiffusionModel(DiffusionParts parts, ProcessConfig config);

  TrainResult fit(const Dataset& data, const FitOptions& options);
  // Samples decoded to image space: [N, C, (D,) H, W].
  at::Tensor generate(const GenerateOptions& options);
  // Same z_T (from `options.seed`), two conditions: returns ([N,…] under A, [N,…] under B).
  std::pair<at::Tensor, at::Tensor> counterfactual_fixed_noise(const GenerateOptions& a,
                                                               const GenerateOptions& b);
  // Invert real images to t = strength under the factual condition (deterministic sampler), then
  // regenerate under the counterfactual one. Returns decoded images.
  at::Tensor counterfactual_inversion(const at::Tensor& images, const GenerateOptions& factual,
                                      const GenerateOptions& counterfactual, double strength);

  void save(const std::string& path) const;
  void load(const std::string& path);

  // Resolved options of every part and of the process, as JSON (what provenance stores).
  std::string config_json() const;
  const std::vector<std::int64_t>& image_shape() const { return image_shape_; }
  void set_image_shape(std::vector<std::int64_t> shape) { image_shape_ = std::move(shape); }

 private:
  std::vector<std::pair<std::string, Trainable*>> trainable_parts() const;
  Cond condition(const GenerateOptions& options, std::int64_t& batch);
  DenoiseFn guided(const GenerateOptions& options, std::int64_t& batch);
  at::Tensor start_noise(std::int64_t batch, std::uint64_t seed, double t_start) const;
  at::Tensor attributes_tensor(const std::vector<std::map<std::string, double>>& rows) const;
  at::Tensor decode(const at::Tensor& z, const GenerateOptions& options);
  // Sampling runs every part in eval mode (no dropout), whether the model was just fitted or
  // loaded: modules are built in training mode.
  void eval_mode();

  DiffusionParts parts_;
  DiffusionProcess process_;
  std::vector<std::int64_t> image_shape_;       // [C, (D,) H, W]
  std::vector<std::string> attribute_names_;
};

}  // namespace whatif

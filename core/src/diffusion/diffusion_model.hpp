#pragma once
// DiffusionModel{encoder, denoiser, schedule, conditioning, sampler}: pixel-space diffusion is
// encoder = identity (or haar), latent diffusion the same code with a learned encoder. Trains
// through the common Trainer, samples with classifier-free guidance; the counterfactual protocols
// (DESIGN.md §6) are composed from its sampling steps in counterfactual.cpp.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "diffusion/process.hpp"
#include "whatif/trainer.hpp"
#include "whatif/conditioning.hpp"
#include "whatif/dataset.hpp"
#include "whatif/denoiser.hpp"
#include "whatif/encoder.hpp"
#include "whatif/model.hpp"
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

class DiffusionModel : public Model {
 public:
  DiffusionModel(DiffusionParts parts, ProcessConfig config);

  FitResult fit(const Dataset& data, const FitRequest& request) override;
  // Samples decoded to image space in `volumes`, the sampled latents in `latents`.
  Generation generate(const GenerateRequest& request) override;
  // fixed-noise or inversion (counterfactual.cpp).
  Pair counterfactual(const CounterfactualRequest& request) override;
  void save(const std::string& path) const override;
  void load(const std::string& path) override;
  std::string config_json() const override;

  // The steps the protocols are made of; all run in eval mode without gradients.
  // Examples a condition asks for (prompts, attribute rows or count); throws if none.
  std::int64_t batch_of(const Condition& condition) const;
  // z at t_start for `batch` examples: σ(t_start)·ε, ε from a generator seeded with `seed`.
  at::Tensor start_noise(std::int64_t batch, std::uint64_t seed, double t_start) const;
  // Guided sampling from z (at sampling.t_start) to latents at t = 0.
  at::Tensor sample(const Condition& condition, const Sampling& sampling, const at::Tensor& z);
  // Deterministic inversion of latents z0 to t = strength under `condition`.
  at::Tensor invert(const Condition& condition, const Sampling& sampling, const at::Tensor& z0,
                    double strength);
  at::Tensor encode(const at::Tensor& images);
  at::Tensor decode(const at::Tensor& z, const Decoding& decoding);
  const Sampler& sampler() const { return *parts_.sampler; }

  const std::vector<std::int64_t>& image_shape() const { return image_shape_; }
  void set_image_shape(std::vector<std::int64_t> shape) { image_shape_ = std::move(shape); }

 private:
  std::vector<std::pair<std::string, Trainable*>> trainable_parts() const;
  Cond condition(const Condition& condition, std::int64_t batch) const;
  DenoiseFn guided(const Condition& condition, double guidance);
  at::Tensor attributes_tensor(const std::vector<std::map<std::string, double>>& rows) const;
  // Per example [1, *S'] (1 inside the dataset's mask, on the representations' grid) when the
  // loss weighs masks (mask_weight > 0); empty otherwise.
  std::vector<at::Tensor> loss_masks(const Dataset& data, const std::vector<at::Tensor>& representations) const;
  // Sampling runs every part in eval mode (no dropout), whether the model was just fitted or
  // loaded: modules are built in training mode.
  void eval_mode();

  DiffusionParts parts_;
  DiffusionProcess process_;
  std::vector<std::int64_t> image_shape_;       // [C, (D,) H, W]
  std::string data_json_ = "{}";                // describe_data of the training data
  std::vector<std::string> attribute_names_;
};

// The counterfactual protocols on a diffusion model (counterfactual.cpp).
Pair diffusion_counterfactual(DiffusionModel& model, const CounterfactualRequest& request);

}  // namespace whatif

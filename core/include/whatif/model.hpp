#pragma once
// whatif::Model — the one interface every model family implements (DESIGN.md §4): diffusion
// (DiffusionModel{encoder, denoiser, schedule, conditioning, sampler}), autoregression, or a new
// family. An experiment fits, generates, makes counterfactuals, saves and loads through it without
// knowing which family it holds.
//
// Requests keep three questions apart: what to condition on (Condition), how to sample (Sampling)
// and how to decode (Decoding). A family reads the fields that apply to it and says so in its docs
// (temperature and top_k mean nothing to a diffusion model; steps and t_start nothing to an
// autoregressive one). Defaults live here, once: the Lua schemas are generated from these structs.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "whatif/tensor.hpp"
#include "whatif/train_config.hpp"

namespace whatif {

class Dataset;
class TextEncoder;

// What to condition on: one example per prompt, per attribute row, or per prior volume; or
// `count` unconditional examples.
struct Condition {
  std::vector<std::string> prompts;
  std::vector<std::map<std::string, double>> attributes;  // e.g. {{"level", 2}}
  at::Tensor prior;  // [N, C, (D,) H, W]: the source of an edit or a progression
  std::int64_t count = 0;
};

// How to sample.
struct Sampling {
  std::uint64_t seed = 0;       // seed of the starting noise (or of token sampling)
  std::int64_t steps = 50;      // sampler steps (diffusion)
  double guidance = 1.0;        // classifier-free guidance w (0 = unconditional)
  double t_start = 1.0;         // start time of sampling (diffusion)
  double temperature = 1.0;     // token sampling (autoregression)
  std::int64_t top_k = 0;       // 0 = the whole vocabulary (autoregression)
  double top_p = 1.0;           // nucleus: the smallest set holding this probability (autoregression)
  std::int64_t max_text_length = 64;  // text tokens written after the image (autoregression)
};

// How to decode representations (latents, tokens) back to volumes.
struct Decoding {
  std::int64_t tile = 0;     // > 0: decode tile by tile, this many latent voxels a side
  std::int64_t overlap = 4;  // overlap of neighbouring tiles, latent voxels
};

struct GenerateRequest {
  Condition condition;
  Sampling sampling;
  Decoding decoding;
};

// What a model made: volumes, and where the family has them, one text per example (an
// interpretation), the tokens and the latents the volumes were decoded from.
struct Generation {
  at::Tensor volumes;               // [N, C, (D,) H, W]
  std::vector<std::string> texts;   // empty, or one per example
  at::Tensor tokens;                // undefined, or [N, T]
  at::Tensor latents;               // undefined, or [N, …] before decoding
};

// The counterfactual protocols of DESIGN.md §6: "fixed-noise" (the same starting noise under the
// factual and the counterfactual condition), "inversion" (a real `source` inverted under the factual
// condition, regenerated under the counterfactual one, from t = strength), "prior-conditioned" (an
// autoregressive model writes the follow-up of `counterfactual.prior`).
struct CounterfactualRequest {
  std::string protocol = "fixed-noise";
  Condition factual, counterfactual;
  at::Tensor source;      // inversion: the real volumes
  double strength = 1.0;  // inversion: invert up to t = strength
  Sampling sampling;
  Decoding decoding;
};

// A counterfactual pair: for fixed-noise both sides are generated; for inversion `factual.volumes`
// is the source itself.
struct Pair {
  std::string protocol;
  Generation factual, counterfactual;
};

struct FitRequest {
  TrainConfig train;
  std::int64_t batch_size = 8;
  std::string tokenizer_dir;             // where a text encoder writes its tokenizer files
  std::string latent_cache;              // HDF5 cache of the encoded dataset; "" = in memory
  std::vector<std::string> attributes;   // attributes the conditioning sees, in order; {} = all
};

struct FitResult {
  TrainResult train;
  std::map<std::string, std::vector<double>> logs;  // extra curves by name, one value per step
};

class Model {
 public:
  virtual ~Model() = default;
  virtual FitResult fit(const Dataset& data, const FitRequest& request) = 0;
  virtual Generation generate(const GenerateRequest& request) = 0;
  virtual Pair counterfactual(const CounterfactualRequest& request) = 0;
  virtual void save(const std::string& path) const = 0;
  virtual void load(const std::string& path) = 0;
  // Resolved options of every part, as JSON (what provenance stores).
  virtual std::string config_json() const = 0;
};

// A family with an image tower and a text tower in one space (whatif.clip) also embeds: unit
// vectors [N, dim] whose dot products compare images with texts.
class JointEmbedding {
 public:
  virtual ~JointEmbedding() = default;
  virtual at::Tensor embed_images(const at::Tensor& x) = 0;  // [N, C, (D,) H, W] → [N, dim]
  virtual at::Tensor embed_texts(const std::vector<std::string>& texts) = 0;
  // The text tower as a text encoder for another model (kind text, name clip); `frozen` keeps it
  // out of that model's training.
  virtual std::shared_ptr<TextEncoder> text_encoder(bool frozen) = 0;
};

}  // namespace whatif

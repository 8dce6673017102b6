#pragma once
// The one training loop every learned part uses: AdamW (Loshchilov & Hutter 2019), linear warmup
// then cosine decay, gradient clipping, EMA of the weights, gradient accumulation, bf16 autocast
// behind one switch, a NaN/Inf guard, progress with loss/rate/ETA, and HDF5 checkpoints every K
// steps and at the end.
//
// Exact resume: all randomness of step s comes from generators seeded with (seed, s) — the
// batch, the noise, and the global generator used by dropout — so a run resumed from a checkpoint
// at step s performs bit-identical steps to one that never stopped (same build, same threads).
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Generator.h>

#include "whatif/tensor.hpp"
#include "whatif/train_config.hpp"

namespace whatif {

// Loss of one micro-batch. `generator` is seeded per (seed, step, micro); `logs` collects extra
// figures to show beside the loss.
using MicroLoss = std::function<at::Tensor(std::int64_t step, std::int64_t micro,
                                           at::Generator& generator,
                                           std::map<std::string, double>& logs)>;

class Trainer {
 public:
  // `parts`: (prefix, part) pairs; parameters are named "<prefix>.<name>".
  Trainer(TrainConfig config, std::vector<std::pair<std::string, Trainable*>> parts);

  TrainResult fit(const MicroLoss& loss);

  // Swaps the EMA weights into the model (for sampling and evaluation) or back.
  void use_ema(bool on);
  const TrainConfig& config() const { return config_; }

  // Deterministic seed for (seed, step, micro) — SplitMix64 mixing.
  static std::uint64_t step_seed(std::uint64_t seed, std::int64_t step, std::int64_t micro);
  // AdamW's decoupled weight decay applies to matrices and convolution kernels only; biases, norm
  // parameters (dim < 2) and embedding tables (a name with "embedding") are left undecayed, the
  // split of nanoGPT's configure_optimizers with embeddings moved to the undecayed group.
  static bool decays(const std::string& name, const at::Tensor& parameter);

 private:
  void save(std::int64_t step, const std::vector<double>& losses);
  std::int64_t load(std::vector<double>& losses);
  double learning_rate(std::int64_t step) const;
  // The EMA's decay at a step: min(ema_decay, (1 + step) / (10 + step)). The warm-up keeps the
  // average from holding on to the initial weights: with a flat 0.999, 0.999^600 = 55 % of the
  // EMA after 600 steps is still the initialisation (zero-initialised output layers, untrained
  // cross-attention), which measurably erased the prompt's effect in short runs.
  double ema_decay(std::int64_t step) const;

  TrainConfig config_;
  std::vector<std::pair<std::string, Trainable*>> parts_;
  NamedTensors params_;                   // trainable parameters, by full name
  std::vector<at::Tensor> m_, v_, ema_;   // AdamW moments and EMA, aligned with params_
  std::vector<bool> decays_;              // weight decay applies, aligned with params_
  bool ema_active_ = false;
};

}  // namespace whatif

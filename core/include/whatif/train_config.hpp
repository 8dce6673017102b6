#pragma once
// What a training run is asked to do (TrainConfig) and what it did (TrainResult): the contract of
// the one training loop every learned part and every model family uses (core/src/train/trainer).
#include <cstdint>
#include <string>
#include <vector>

namespace whatif {

struct TrainConfig {
  std::int64_t steps = 1000;
  std::int64_t accumulate = 1;  // micro-batches per optimizer step
  double lr = 1e-3;
  std::int64_t warmup = 100;
  double min_lr_ratio = 0.1;  // cosine decays to lr · min_lr_ratio
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double grad_clip = 1.0;  // global norm; 0 disables
  double ema_decay = 0.999;  // 0 disables; warmed up, see Trainer::ema_decay
  bool bf16 = false;
  std::uint64_t seed = 0;
  std::int64_t checkpoint_every = 0;  // 0: only at the end
  std::string checkpoint;            // path; empty: no checkpoints
  bool resume = true;                // continue from `checkpoint` if it exists
  std::string config_json = "{}";    // stored in checkpoints
  std::string data_json = "{}";      // the data trained on (describe_data), stored in checkpoints
  std::string label = "train";
  std::int64_t stop_after = -1;      // stop (as if interrupted) after this step; tests use it
};

struct TrainResult {
  std::int64_t steps_done = 0;  // total, including resumed ones
  std::int64_t resumed_from = 0;
  std::vector<double> losses;   // one per step, from step 0
  double seconds = 0;           // this process's training time
};

}  // namespace whatif

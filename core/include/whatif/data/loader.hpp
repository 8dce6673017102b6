#pragma once
// A background loader: worker threads build batches ahead of the consumer, in an order that
// depends only on the seed and the epoch (never on thread timing).
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "whatif/dataset.hpp"

namespace whatif::data {

struct Batch {
  at::Tensor images;  // [B, C, (D,) H, W]
  at::Tensor masks;   // [B, 1, (D,) H, W], undefined unless every example has one
  std::vector<std::string> text;
  std::vector<std::string> subject;
  std::map<std::string, at::Tensor> attributes;  // name → [B] float64 (NaN where missing)
  std::vector<std::int64_t> indices;
};

struct LoaderOptions {
  std::int64_t batch_size = 8;
  int threads = 2;
  int prefetch = 4;  // batches built ahead of the consumer
  bool shuffle = true;
  std::uint64_t seed = 0;
  bool drop_last = false;
};

// The epoch's example order: a permutation of 0..n-1 from (seed, epoch), or the identity.
std::vector<std::int64_t> epoch_order(std::int64_t n, bool shuffle, std::uint64_t seed,
                                      std::int64_t epoch);

class Loader {
 public:
  // `dataset->get` is called from the worker threads concurrently.
  Loader(std::shared_ptr<const Dataset> dataset, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  // Starts (or restarts) an epoch; batches come from `next` until it returns nothing.
  void start_epoch(std::int64_t epoch);
  // The next batch, waiting for a worker if needed; rethrows a worker's error.
  std::optional<Batch> next();
  std::int64_t batches_per_epoch() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Stacks examples into a batch (what the workers do).
Batch collate(const std::vector<Example>& examples, const std::vector<std::int64_t>& indices);

}  // namespace whatif::data

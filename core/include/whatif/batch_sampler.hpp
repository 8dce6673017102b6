#pragma once
// The one source of training batches: which examples a micro-batch holds is a function of (seed,
// step, micro-batch, rank) alone. Examples are visited in epochs, each a permutation of 0..n−1
// drawn from (seed, epoch); step s, micro-batch m takes the next batch·world positions of that
// stream and rank r the r-th slice of them. Nothing is carried between steps, so a resumed run, a
// run with another world size (same global batch) and every rank of a data-parallel run agree on
// the global order.
#include <cstdint>
#include <vector>

namespace whatif {

class BatchSampler {
 public:
  BatchSampler(std::int64_t examples, std::int64_t batch, std::int64_t accumulate, std::uint64_t seed,
               std::int64_t rank = 0, std::int64_t world = 1);

  // Indices of this rank's part of micro-batch `micro` of step `step`.
  std::vector<std::int64_t> indices(std::int64_t step, std::int64_t micro) const;
  // The visiting order of epoch `epoch`: a permutation of 0..n−1.
  std::vector<std::int64_t> epoch_order(std::int64_t epoch) const;

 private:
  // The order of `epoch`, computed once while steps stay in that epoch.
  const std::vector<std::int64_t>& cached_order(std::int64_t epoch) const;

  std::int64_t examples_, batch_, accumulate_, rank_, world_;
  std::uint64_t seed_;
  mutable std::int64_t cached_epoch_ = -1;
  mutable std::vector<std::int64_t> cached_order_;
};

}  // namespace whatif

#include "whatif/batch_sampler.hpp"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "whatif/registry/error.hpp"
#include "whatif/trainer.hpp"

namespace whatif {

BatchSampler::BatchSampler(std::int64_t examples, std::int64_t batch, std::int64_t accumulate,
                           std::uint64_t seed, std::int64_t rank, std::int64_t world)
    : examples_(examples), batch_(batch), accumulate_(accumulate), rank_(rank), world_(world), seed_(seed) {
  if (examples < 1) throw Error("batch sampler: the dataset is empty");
  if (batch < 1 || accumulate < 1) throw Error("batch sampler: batch_size and accumulate must be >= 1");
  if (world < 1 || rank < 0 || rank >= world) throw Error("batch sampler: rank must be in [0, world)");
}

std::vector<std::int64_t> BatchSampler::epoch_order(std::int64_t epoch) const { return cached_order(epoch); }

const std::vector<std::int64_t>& BatchSampler::cached_order(std::int64_t epoch) const {
  if (epoch != cached_epoch_) {
    // Micro index −1 keeps the epoch's generator apart from the steps' (Trainer::step_seed).
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(Trainer::step_seed(seed_, epoch, -1));
    const at::Tensor order = at::randperm(examples_, generator, at::kLong);
    cached_order_.assign(order.data_ptr<std::int64_t>(), order.data_ptr<std::int64_t>() + examples_);
    cached_epoch_ = epoch;
  }
  return cached_order_;
}

std::vector<std::int64_t> BatchSampler::indices(std::int64_t step, std::int64_t micro) const {
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(batch_));
  const std::int64_t first = ((step * accumulate_ + micro) * world_ + rank_) * batch_;
  for (std::int64_t position = first; position < first + batch_; ++position) {
    const std::int64_t epoch = position / examples_;
    out.push_back(cached_order(epoch)[static_cast<std::size_t>(position % examples_)]);
  }
  return out;
}

}  // namespace whatif

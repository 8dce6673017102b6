// Background loader: workers claim batch numbers in order and build them ahead of the consumer;
// the consumer takes batch k only when it is k's turn, so order never depends on timing.
#include "whatif/data/loader.hpp"

#include <condition_variable>
#include <exception>
#include <limits>
#include <mutex>
#include <random>
#include <thread>

#include <ATen/ATen.h>

#include "whatif/registry/error.hpp"

namespace whatif::data {

std::vector<std::int64_t> epoch_order(std::int64_t n, bool shuffle, std::uint64_t seed,
                                      std::int64_t epoch) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) order[i] = i;
  if (!shuffle) return order;
  // Fisher–Yates with explicit draws: the permutation is the same with every standard library.
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + static_cast<std::uint64_t>(epoch) + 1);
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

Batch collate(const std::vector<Example>& examples, const std::vector<std::int64_t>& indices) {
  Batch batch;
  batch.indices = indices;
  std::vector<at::Tensor> images, masks;
  bool all_masks = true;
  for (const auto& e : examples) {
    images.push_back(e.image);
    all_masks = all_masks && e.mask.defined();
    if (e.mask.defined()) masks.push_back(e.mask);
    batch.text.push_back(e.text);
    batch.subject.push_back(e.subject);
    for (const auto& [name, value] : e.attributes) batch.attributes.emplace(name, at::Tensor());
  }
  if (images.empty()) return batch;
  for (std::size_t i = 1; i < images.size(); ++i)
    if (images[i].sizes() != images[0].sizes())
      throw Error("cannot batch example " + std::to_string(indices[i]) + " of shape " +
                  c10::str(images[i].sizes()) + " with " + c10::str(images[0].sizes()) +
                  "; preprocess to one size");
  batch.images = at::stack(images);
  if (all_masks) batch.masks = at::stack(masks);
  const auto b = static_cast<std::int64_t>(examples.size());
  for (auto& [name, column] : batch.attributes) {
    column = at::full({b}, std::numeric_limits<double>::quiet_NaN(), at::kDouble);
    auto values = column.accessor<double, 1>();
    for (std::int64_t i = 0; i < b; ++i) {
      const auto it = examples[i].attributes.find(name);
      if (it != examples[i].attributes.end()) values[i] = it->second;
    }
  }
  return batch;
}

struct Loader::Impl {
  std::shared_ptr<const Dataset> dataset;
  LoaderOptions options;
  std::vector<std::int64_t> order;
  std::int64_t batches = 0;

  std::mutex mutex;
  std::condition_variable changed;
  std::map<std::int64_t, std::pair<std::optional<Batch>, std::exception_ptr>> ready;
  std::int64_t next_claim = 0;    // the next batch a worker will build
  std::int64_t next_deliver = 0;  // the next batch the consumer gets
  bool stop = false;
  std::vector<std::thread> workers;

  void work() {
    for (;;) {
      std::int64_t k;
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] {
          return stop || next_claim >= batches || next_claim < next_deliver + options.prefetch;
        });
        if (stop || next_claim >= batches) return;
        k = next_claim++;
      }
      std::optional<Batch> batch;
      std::exception_ptr error;
      try {
        const std::int64_t begin = k * options.batch_size;
        const std::int64_t end = std::min<std::int64_t>(begin + options.batch_size, order.size());
        std::vector<Example> examples;
        std::vector<std::int64_t> indices(order.begin() + begin, order.begin() + end);
        for (const auto i : indices) examples.push_back(dataset->get(i));
        batch = collate(examples, indices);
      } catch (...) {
        error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mutex);
        ready[k] = {std::move(batch), error};
      }
      changed.notify_all();
    }
  }

  void halt() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      stop = true;
    }
    changed.notify_all();
    for (auto& t : workers) t.join();
    workers.clear();
  }
};

Loader::Loader(std::shared_ptr<const Dataset> dataset, LoaderOptions options)
    : impl_(std::make_unique<Impl>()) {
  if (!dataset) throw Error("loader: no dataset");
  if (options.batch_size < 1) throw Error("loader: batch_size must be at least 1");
  if (options.threads < 1) throw Error("loader: threads must be at least 1");
  if (options.prefetch < 1) throw Error("loader: prefetch must be at least 1");
  impl_->dataset = std::move(dataset);
  impl_->options = options;
  start_epoch(0);
}

Loader::~Loader() { impl_->halt(); }

std::int64_t Loader::batches_per_epoch() const { return impl_->batches; }

void Loader::start_epoch(std::int64_t epoch) {
  Impl& s = *impl_;
  s.halt();
  const std::int64_t n = s.dataset->size();
  s.order = epoch_order(n, s.options.shuffle, s.options.seed, epoch);
  s.batches = s.options.drop_last ? n / s.options.batch_size
                                  : (n + s.options.batch_size - 1) / s.options.batch_size;
  s.ready.clear();
  s.next_claim = s.next_deliver = 0;
  s.stop = false;
  for (int t = 0; t < s.options.threads; ++t) s.workers.emplace_back([&s] { s.work(); });
}

std::optional<Batch> Loader::next() {
  Impl& s = *impl_;
  std::unique_lock<std::mutex> lock(s.mutex);
  if (s.next_deliver >= s.batches) return std::nullopt;
  s.changed.wait(lock, [&] { return s.ready.count(s.next_deliver) > 0; });
  auto node = s.ready.extract(s.next_deliver);
  ++s.next_deliver;
  lock.unlock();
  s.changed.notify_all();
  if (node.mapped().second) std::rethrow_exception(node.mapped().second);
  return std::move(node.mapped().first);
}

}  // namespace whatif::data

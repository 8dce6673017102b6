// Data loading at 64³: examples per second through the background loader (2 threads), against a
// plain sequential read of the same store and a single-thread loader, measured in the same run.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "whatif/data/loader.hpp"
#include "whatif/data/store.hpp"
#include "whatif/data/synthetic_brain.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

class StoreDataset : public whatif::Dataset {
 public:
  explicit StoreDataset(const std::string& path) : store_(path) {}
  std::int64_t size() const override { return store_.size(); }
  whatif::Example get(std::int64_t i) const override { return store_.example(i); }
  std::vector<std::string> attribute_names() const override { return store_.attribute_names(); }

 private:
  whatif::data::StoreReader store_;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double loader_rate(const std::shared_ptr<const whatif::Dataset>& dataset, int threads, int epochs) {
  whatif::data::LoaderOptions options;
  options.batch_size = 8;
  options.threads = threads;
  options.prefetch = 4;
  options.seed = 1;
  whatif::data::Loader loader(dataset, options);
  std::int64_t examples = 0;
  const auto start = Clock::now();
  for (int epoch = 0; epoch < epochs; ++epoch) {
    loader.start_epoch(epoch);
    while (auto batch = loader.next()) examples += batch->images.size(0);
  }
  return static_cast<double>(examples) / seconds_since(start);
}

}  // namespace

int main() {
  at::set_num_threads(1);  // the loader's threads are the parallelism measured here
  const fs::path dir = fs::temp_directory_path() / ("whatif-bench-loader-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "brain-64.h5").string();
  {
    whatif::data::BrainOptions options;
    options.size = 64;
    const whatif::data::SyntheticBrain brain(options);
    whatif::data::StoreWriter writer(path, {1, 64, 64, 64}, true, true);
    for (std::int64_t s = 0; s < 16; ++s)
      for (const auto& twin : brain.subject(s)) writer.append(twin.example, twin.prompt);
    writer.commit();
  }
  const auto dataset = std::make_shared<StoreDataset>(path);
  const int epochs = 3;

  const whatif::data::StoreReader reader(path);
  std::int64_t read = 0;
  const auto start = Clock::now();
  for (int epoch = 0; epoch < epochs; ++epoch)
    for (std::int64_t i = 0; i < reader.size(); ++i, ++read) reader.example(i);
  const double raw = static_cast<double>(read) / seconds_since(start);
  const double single = loader_rate(dataset, 1, epochs);
  const double dual = loader_rate(dataset, 2, epochs);

  std::printf("loader at 64³ (%lld examples × %d epochs, batch 8): sequential read %.1f/s, loader 1 thread %.1f/s, "
              "2 threads %.1f/s (%.2fx the sequential read)\n",
              static_cast<long long>(reader.size()), epochs, raw, single, dual, dual / raw);
  std::printf("bench: loader_examples_per_s_64 %.2f 1/s\n", dual);
  std::printf("bench: loader_sequential_read_per_s_64 %.2f 1/s\n", raw);
  std::printf("bench: loader_single_thread_per_s_64 %.2f 1/s\n", single);
  std::printf("bench: loader_speedup_vs_sequential_64 %.3f x\n", dual / raw);
  fs::remove_all(dir);
  return 0;
}

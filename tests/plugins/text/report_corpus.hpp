#pragma once
// A small radiology-report corpus and helpers shared by the text and conditioning tests.
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "whatif/registry/registry.hpp"
#include "whatif/text.hpp"

namespace whatif_test {

inline std::vector<std::string> report_corpus() {
  std::vector<std::string> corpus;
  const char* counts[] = {"no", "one", "two", "several", "12", "many"};
  const char* kinds[] = {"small", "confluent", "enhancing", "ovoid"};
  const char* regions[] = {"periventricular", "juxtacortical", "infratentorial", "deep"};
  for (const char* count : counts)
    for (const char* kind : kinds)
      for (const char* region : regions)
        corpus.push_back(std::string("There are ") + count + " " + kind + " lesions in the " +
                         region + " white matter.");
  for (const char* load : {"minimal", "low", "moderate", "high"})
    corpus.push_back(std::string("Overall ") + load + " lesion load, volume 3.5 ml.");
  corpus.push_back("No new lesions since the prior scan; mild generalized atrophy.");
  corpus.push_back("Ventricles are normal in size (Evans index 0.27).");
  return corpus;
}

// The sentencepiece model held in a "tokenizer.model" buffer: an 8-byte little-endian length,
// then the model's bytes.
inline std::string stored_model(const at::Tensor& buffer) {
  const at::Tensor bytes = buffer.cpu().contiguous();
  const auto* data = bytes.data_ptr<std::uint8_t>();
  std::uint64_t size = 0;
  for (int i = 0; i < 8; ++i) size |= static_cast<std::uint64_t>(data[i]) << (8 * i);
  return std::string(reinterpret_cast<const char*>(data + 8), size);
}

inline at::Tensor named(const whatif::NamedTensors& tensors, const std::string& name) {
  for (const auto& [key, value] : tensors)
    if (key == name) return value;
  throw std::runtime_error("no tensor named " + name);
}

inline std::shared_ptr<whatif::TextEncoder> make_transformer(whatif::Registry& registry,
                                                             std::int64_t width = 32,
                                                             const std::string& tokenizer = "bpe",
                                                             std::int64_t max_length = 32) {
  whatif::Options options;
  options.set("width", width);
  options.set("layers", std::int64_t{2});
  options.set("heads", std::int64_t{4});
  options.set("vocab_size", std::int64_t{200});
  options.set("max_length", max_length);
  options.set("tokenizer", tokenizer);
  return registry.create_as<whatif::TextEncoder>("text", "transformer", options);
}

}  // namespace whatif_test

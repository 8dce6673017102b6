#pragma once
// A dataset's representations (an encoder's latents, or a tokenizer's codes), computed once. With
// a cache path they live in an HDF5 file tagged
// with the encoder's fingerprint (name, options, every parameter and buffer) and the dataset's
// (name, options, size): a later fit with the same encoder and data reads the latents and never
// calls the dataset or the encoder; a changed encoder or dataset makes the file stale, and it is
// rebuilt. Layout (written to a temporary name, then renamed):
//   /latents/z          [N, C', *S'] float32 latents, or [N, *S'] int64 codes
//   /attributes/<name>  [N] float64, NaN where an example lacks it
//   attributes: format = "whatif-latents" or "whatif-tokens", encoder_hash, dataset_hash, texts (JSON list),
//               image_shape (JSON list)
#include <map>
#include <string>
#include <vector>

#include "whatif/dataset.hpp"
#include "whatif/encoder.hpp"

namespace whatif {

// What is kept of each example: encode's latents or tokenize's codes (the same encoder's two
// caches are told apart by their format).
enum class Representation { Latents, Tokens };

struct EncodedData {
  std::vector<at::Tensor> latents;  // [C', *S'] per example (Tokens: [*S'] int64 codes)
  std::vector<std::string> texts;
  std::vector<std::map<std::string, double>> attributes;
  std::vector<std::int64_t> image_shape;  // [C, *S] of the inputs
  bool from_cache = false;
};

std::string encoder_hash(Encoder& encoder);
std::string dataset_hash(const Dataset& data);

// Encodes `data` (in eval mode, chunks of `chunk` examples) or, when `cache_path` names a current
// cache, reads it. An empty `cache_path` keeps everything in memory.
EncodedData encode_dataset(Encoder& encoder, const Dataset& data, const std::string& cache_path,
                           std::int64_t chunk = 16, Representation representation = Representation::Latents);

}  // namespace whatif

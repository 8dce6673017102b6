#include "diffusion/latent_cache.hpp"

#include <cmath>
#include <filesystem>
#include <set>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "train/checkpoint.hpp"
#include "util/hash.hpp"
#include "util/log.hpp"
#include "util/progress.hpp"
#include "whatif/registry/error.hpp"

namespace whatif {
namespace fs = std::filesystem;

namespace {

const char* format_of(Representation r) { return r == Representation::Tokens ? "whatif-tokens" : "whatif-latents"; }
const char* noun_of(Representation r) { return r == Representation::Tokens ? "token" : "latent"; }

std::uint64_t hash_tensors(const NamedTensors& tensors, std::uint64_t hash) {
  for (const auto& [name, t] : tensors) {
    hash = fnv1a(name, hash);
    const at::Tensor c = t.detach().to(at::kCPU).contiguous();
    for (const auto s : c.sizes()) hash = fnv1a(&s, sizeof s, hash);
    hash = fnv1a(c.data_ptr(), c.numel() * c.element_size(), hash);
  }
  return hash;
}

std::string component_fingerprint(const Component& c) {
  return c.identity().label() + " " + c.hyperparams().to_json();
}

// Reads `path` when it is a latent cache with these tags; says why not otherwise.
bool read_cache(const std::string& path, const std::string& encoder, const std::string& dataset,
                Representation representation, EncodedData& out, std::string& why) {
  if (!fs::exists(path)) {
    why = "not built yet";
    return false;
  }
  Checkpoint c;
  try {
    c = read_checkpoint(path);
  } catch (const std::exception& e) {
    why = std::string("unreadable (") + e.what() + ")";
    return false;
  }
  const auto tag = [&](const char* key) { return c.strings.count(key) ? c.strings.at(key) : std::string(); };
  if (tag("format") != format_of(representation)) {
    why = std::string("not a ") + noun_of(representation) + " cache";
    return false;
  }
  if (tag("encoder_hash") != encoder) {
    why = "stale: the encoder changed (" + tag("encoder_hash") + " → " + encoder + ")";
    return false;
  }
  if (tag("dataset_hash") != dataset) {
    why = "stale: the dataset changed (" + tag("dataset_hash") + " → " + dataset + ")";
    return false;
  }
  const at::Tensor z = c.groups.at("latents").front().second;
  for (std::int64_t i = 0; i < z.size(0); ++i) out.latents.push_back(z[i]);
  out.texts = nlohmann::json::parse(tag("texts")).get<std::vector<std::string>>();
  out.image_shape = nlohmann::json::parse(tag("image_shape")).get<std::vector<std::int64_t>>();
  out.attributes.resize(out.latents.size());
  if (c.groups.count("attributes"))
    for (const auto& [name, values] : c.groups.at("attributes")) {
      const at::Tensor v = values.to(at::kDouble).contiguous();
      for (std::int64_t i = 0; i < v.numel(); ++i)
        if (!std::isnan(v.data_ptr<double>()[i])) out.attributes[static_cast<std::size_t>(i)][name] = v.data_ptr<double>()[i];
    }
  if (out.texts.size() != out.latents.size())
    throw Error(path + ": " + noun_of(representation) + " cache holds " + std::to_string(out.latents.size()) + " entries but " +
                std::to_string(out.texts.size()) + " texts; delete it to rebuild");
  out.from_cache = true;
  return true;
}

void write_cache(const std::string& path, const std::string& encoder, const std::string& dataset,
                 Representation representation, const EncodedData& d) {
  Checkpoint c;
  c.groups["latents"].emplace_back(
      "z", at::stack(d.latents).to(representation == Representation::Tokens ? at::kLong : at::kFloat));
  std::set<std::string> names;
  for (const auto& row : d.attributes)
    for (const auto& [k, v] : row) names.insert(k);
  for (const auto& name : names) {
    at::Tensor v = at::full({static_cast<std::int64_t>(d.attributes.size())}, NAN, at::kDouble);
    for (std::size_t i = 0; i < d.attributes.size(); ++i) {
      const auto it = d.attributes[i].find(name);
      if (it != d.attributes[i].end()) v[static_cast<std::int64_t>(i)] = it->second;
    }
    c.groups["attributes"].emplace_back(name, v);
  }
  c.strings = {{"format", format_of(representation)},
               {"encoder_hash", encoder},
               {"dataset_hash", dataset},
               {"texts", nlohmann::json(d.texts).dump()},
               {"image_shape", nlohmann::json(d.image_shape).dump()}};
  if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path());
  write_checkpoint(path, c);
}

}  // namespace

std::string encoder_hash(Encoder& encoder) {
  std::uint64_t hash = fnv1a(component_fingerprint(encoder));
  hash = hash_tensors(encoder.named_parameters(), hash);
  hash = hash_tensors(encoder.named_buffers(), hash);
  return hex(hash);
}

std::string dataset_hash(const Dataset& data) {
  return hex(fnv1a(component_fingerprint(data) + " size=" + std::to_string(data.size())));
}

EncodedData encode_dataset(Encoder& encoder, const Dataset& data, const std::string& cache_path,
                           std::int64_t chunk, Representation representation) {
  const std::int64_t n = data.size();
  if (n == 0) throw Error("encoding: the dataset is empty");
  EncodedData out;
  std::string encoder_tag, dataset_tag;
  if (!cache_path.empty()) {
    encoder_tag = encoder_hash(encoder);
    dataset_tag = dataset_hash(data);
    std::string why;
    if (read_cache(cache_path, encoder_tag, dataset_tag, representation, out, why)) {
      logger()->info("{} cache {}: {} entries of encoder {}", noun_of(representation), cache_path, out.latents.size(),
                     encoder_tag);
      return out;
    }
    out = EncodedData{};
    logger()->info("{} cache {}: {}; encoding the dataset", noun_of(representation), cache_path, why);
  }
  at::NoGradGuard no_grad;
  encoder.train(false);
  Progress progress(n, "encoding data");
  for (std::int64_t start = 0; start < n; start += chunk) {
    std::vector<at::Tensor> images;
    for (std::int64_t i = start; i < std::min(n, start + chunk); ++i) {
      Example e = data.get(i);
      if (out.image_shape.empty()) out.image_shape.assign(e.image.sizes().begin(), e.image.sizes().end());
      if (!e.image.sizes().equals(out.image_shape))
        throw Error("encoding: example " + std::to_string(i) + " has another shape than example 0");
      images.push_back(e.image);
      out.texts.push_back(std::move(e.text));
      out.attributes.push_back(std::move(e.attributes));
    }
    const at::Tensor batch = at::stack(images);
    const at::Tensor z = representation == Representation::Tokens ? encoder.tokenize(batch) : encoder.encode(batch);
    for (std::int64_t i = 0; i < z.size(0); ++i) out.latents.push_back(z[i].clone());
    progress.tick(z.size(0));
  }
  if (!cache_path.empty()) write_cache(cache_path, encoder_tag, dataset_tag, representation, out);
  return out;
}

}  // namespace whatif

#include "clip/retrieval.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>

#include <ATen/ATen.h>

#include "whatif/registry/error.hpp"

namespace whatif {
namespace {

// Label ids: equal strings get equal ids; no labels give every row its own.
std::vector<std::int64_t> label_ids(const std::vector<std::string>& labels, std::int64_t n) {
  std::vector<std::int64_t> ids(static_cast<std::size_t>(n));
  if (labels.empty()) {
    std::iota(ids.begin(), ids.end(), 0);
    return ids;
  }
  std::map<std::string, std::int64_t> seen;
  for (std::int64_t i = 0; i < n; ++i)
    ids[static_cast<std::size_t>(i)] =
        seen.emplace(labels[static_cast<std::size_t>(i)], static_cast<std::int64_t>(seen.size())).first->second;
  return ids;
}

// Recall@k of queries over candidates by similarity rows [N, N]: the fraction of queries with a
// same-label candidate among their k most similar.
double recall(const at::Tensor& similarity, const std::vector<std::int64_t>& ids, std::int64_t k) {
  const std::int64_t n = similarity.size(0);
  const at::Tensor top = std::get<1>(similarity.topk(std::min(k, n), 1)).contiguous();
  const auto* t = top.data_ptr<std::int64_t>();
  std::int64_t hits = 0;
  for (std::int64_t q = 0; q < n; ++q)
    for (std::int64_t j = 0; j < top.size(1); ++j)
      if (ids[static_cast<std::size_t>(t[q * top.size(1) + j])] == ids[static_cast<std::size_t>(q)]) {
        ++hits;
        break;
      }
  return static_cast<double>(hits) / static_cast<double>(n);
}

// A random ranking's recall@k for a query with m same-label candidates among n: 1 − C(n−m, k)/C(n, k).
double chance(std::int64_t n, std::int64_t m, std::int64_t k) {
  double miss = 1;
  for (std::int64_t j = 0; j < std::min(k, n); ++j)
    miss *= static_cast<double>(std::max<std::int64_t>(n - m - j, 0)) / static_cast<double>(n - j);
  return 1 - miss;
}

}  // namespace

std::map<std::string, double> retrieval_recall(const at::Tensor& images, const at::Tensor& texts,
                                               const std::vector<std::string>& labels,
                                               const std::vector<std::int64_t>& ks) {
  if (images.dim() != 2 || texts.dim() != 2 || images.sizes() != texts.sizes() || images.size(0) < 1)
    throw Error("retrieval: image and text embeddings must both be [N, d] with the same N ≥ 1 (row i of each the same example)");
  const std::int64_t n = images.size(0);
  if (!labels.empty() && static_cast<std::int64_t>(labels.size()) != n)
    throw Error("retrieval: " + std::to_string(labels.size()) + " labels for " + std::to_string(n) +
                " examples: give one label per example, or none");
  const auto ids = label_ids(labels, n);
  std::map<std::int64_t, std::int64_t> count;
  for (const auto id : ids) ++count[id];
  const at::Tensor similarity = at::matmul(images.to(at::kFloat), texts.to(at::kFloat).t());
  std::map<std::string, double> out;
  for (const auto k : ks) {
    if (k < 1) throw Error("retrieval: k must be ≥ 1, got " + std::to_string(k));
    const std::string suffix = "_r" + std::to_string(k);
    out["image_to_text" + suffix] = recall(similarity, ids, k);
    out["text_to_image" + suffix] = recall(similarity.t(), ids, k);
    double expected = 0;
    for (const auto id : ids) expected += chance(n, count[id], k);
    out["chance" + suffix] = expected / static_cast<double>(n);
  }
  return out;
}

at::Tensor zero_shot_scores(const at::Tensor& images, const at::Tensor& positive, const at::Tensor& negative) {
  if (images.dim() != 2 || positive.dim() != 2 || negative.dim() != 2 || positive.size(0) < 1 ||
      negative.size(0) < 1 || positive.size(1) != images.size(1) || negative.size(1) != images.size(1))
    throw Error("zero-shot: give image embeddings [N, d] and at least one positive and one negative prompt embedding [P, d]");
  const auto centre = [](const at::Tensor& e) {
    const at::Tensor mean = e.to(at::kFloat).mean(0);
    return mean / mean.norm().clamp_min(1e-12);
  };
  const at::Tensor x = images.to(at::kFloat);
  return at::matmul(x, centre(positive)) - at::matmul(x, centre(negative));
}

at::Tensor clip_scores(const at::Tensor& images, const at::Tensor& texts) {
  if (images.dim() != 2 || texts.dim() != 2 || images.sizes() != texts.sizes())
    throw Error("clip-score: give image and text embeddings of the same shape [N, d], row i of both the same example");
  return 100.0 * (images.to(at::kFloat) * texts.to(at::kFloat)).sum(1).clamp_min(0.0);
}

}  // namespace whatif

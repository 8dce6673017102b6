#pragma once
// Area under the ROC curve of scores against binary labels: the one implementation behind
// whatif.auc (zero-shot finding classification) and the augmentation-utility metric.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numeric>
#include <string>
#include <vector>

#include "whatif/registry/error.hpp"

namespace whatif::data {

// The probability that a random positive (label true) scores above a random negative, ties
// counting one half (Mann–Whitney U / n₊n₋). Throws when either class is empty, when the sizes
// differ, or when a score is not finite.
inline double roc_auc(const std::vector<double>& scores, const std::vector<bool>& labels) {
  if (scores.size() != labels.size())
    throw whatif::Error("auc: " + std::to_string(scores.size()) + " scores for " + std::to_string(labels.size()) +
                        " labels");
  // Ranks with ties averaged; AUC = (sum of positive ranks − n₊(n₊+1)/2) / (n₊ n₋).
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  double positive_ranks = 0, positives = 0;
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;  // mean of ranks i+1..j
    for (std::size_t q = i; q < j; ++q)
      if (labels[order[q]]) {
        positive_ranks += rank;
        positives += 1;
      }
    i = j;
  }
  const double negatives = static_cast<double>(scores.size()) - positives;
  if (positives == 0 || negatives == 0)
    throw whatif::Error("auc: the labels need both classes (got " + std::to_string(static_cast<long>(positives)) +
                        " positive and " + std::to_string(static_cast<long>(negatives)) + " negative)");
  for (const double s : scores)
    if (!std::isfinite(s)) throw whatif::Error("auc: a score is NaN or infinite");
  return (positive_ranks - positives * (positives + 1) / 2) / (positives * negatives);
}

}  // namespace whatif::data

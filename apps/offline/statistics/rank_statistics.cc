#include "apps/offline/statistics/rank_statistics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sparsegate::offline {

StratifiedRanking::StratifiedRanking(const std::vector<double>& scores, const std::vector<int>& stratum)
    : order_(scores.size()), stratum_(stratum), scores_(scores) {
  if (!stratum_.empty()) strata_ = 1 + *std::max_element(stratum_.begin(), stratum_.end());
  std::iota(order_.begin(), order_.end(), 0);
  std::stable_sort(order_.begin(), order_.end(), [&](size_t a, size_t b) {
    if (stratum_of(a) != stratum_of(b)) return stratum_of(a) < stratum_of(b);
    return scores_[a] < scores_[b];
  });
}

std::vector<double> StratifiedRanking::MidRanks(const std::vector<double>& weight) const {
  std::vector<double> ranks(order_.size(), 0.0);
  double below = 0;  // weight of the stratum's rows under the current tie group
  for (size_t start = 0; start < order_.size();) {
    if (start == 0 || stratum_of(order_[start]) != stratum_of(order_[start - 1])) below = 0;
    size_t end = start;
    double tied = 0;
    while (end < order_.size() && stratum_of(order_[end]) == stratum_of(order_[start]) &&
           scores_[order_[end]] == scores_[order_[start]]) {
      tied += weight[order_[end]];
      ++end;
    }
    const double mid = below + 0.5 * (tied + 1);  // the mean of ranks below+1 .. below+tied
    for (size_t k = start; k < end; ++k) ranks[order_[k]] = weight[order_[k]] > 0 ? mid : 0.0;
    below += tied;
    start = end;
  }
  return ranks;
}

std::optional<double> StratifiedRanking::Auroc(const std::vector<uint8_t>& positive, const std::vector<double>& weight,
                                               const std::vector<uint8_t>& eligible) const {
  double numerator = 0, denominator = 0;
  for (size_t start = 0; start < order_.size();) {
    const int s = stratum_of(order_[start]);
    size_t stratum_end = start;
    while (stratum_end < order_.size() && stratum_of(order_[stratum_end]) == s) ++stratum_end;
    if (!eligible.empty() && !eligible[s]) {
      start = stratum_end;
      continue;
    }
    // Ascending scores: a positive beats every negative below its tie group, and half of those in it.
    double negatives_below = 0, positives = 0, negatives = 0;
    for (size_t g = start; g < stratum_end;) {
      size_t end = g;
      double pos = 0, neg = 0;
      while (end < stratum_end && scores_[order_[end]] == scores_[order_[g]]) {
        (positive[order_[end]] ? pos : neg) += weight[order_[end]];
        ++end;
      }
      numerator += pos * negatives_below + 0.5 * pos * neg;
      negatives_below += neg;
      positives += pos;
      negatives += neg;
      g = end;
    }
    denominator += positives * negatives;
    start = stratum_end;
  }
  if (denominator <= 0) return std::nullopt;
  return numerator / denominator;
}

std::optional<double> Spearman(const StratifiedRanking& x, const StratifiedRanking& y, const std::vector<double>& weight,
                               const std::vector<uint8_t>& eligible) {
  const std::vector<double> rx = x.MidRanks(weight), ry = y.MidRanks(weight);
  struct Sums {
    double w = 0, x = 0, y = 0, xx = 0, yy = 0, xy = 0;
  };
  std::vector<Sums> sums(x.strata());
  for (size_t i = 0; i < rx.size(); ++i) {
    const double w = weight[i];
    if (w <= 0) continue;
    Sums& s = sums[x.stratum_of(i)];
    s.w += w;
    s.x += w * rx[i];
    s.y += w * ry[i];
    s.xx += w * rx[i] * rx[i];
    s.yy += w * ry[i] * ry[i];
    s.xy += w * rx[i] * ry[i];
  }
  double total = 0, weighted = 0;
  for (int k = 0; k < x.strata(); ++k) {
    if (!eligible.empty() && !eligible[k]) continue;
    const Sums& s = sums[k];
    if (s.w <= 0) continue;
    const double vx = s.xx / s.w - (s.x / s.w) * (s.x / s.w);
    const double vy = s.yy / s.w - (s.y / s.w) * (s.y / s.w);
    // Ranks are of order w, so a variance this small relative to w^2 is rounding on a constant column.
    if (vx <= 1e-12 * s.w * s.w || vy <= 1e-12 * s.w * s.w) continue;
    const double cov = s.xy / s.w - (s.x / s.w) * (s.y / s.w);
    weighted += s.w * cov / std::sqrt(vx * vy);
    total += s.w;
  }
  if (total <= 0) return std::nullopt;
  return weighted / total;
}

}  // namespace sparsegate::offline

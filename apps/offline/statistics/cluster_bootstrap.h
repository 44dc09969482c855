// Percentile intervals by the cluster bootstrap: each resample draws as many clusters as there
// are, with replacement, and weighs every row by the number of times its cluster was drawn. Rows
// of one cluster (near-duplicate prompts, or one prompt's variants) move together, so the interval
// is honest about how many independent units the data hold.
//
// Statistics are functions of the row weights (rank_statistics.h computes them in O(n) each) and
// are all evaluated on the same resamples, so the interval of a difference between two models is
// the paired one. A statistic undefined on a resample (one class drawn only) skips that resample;
// the count of resamples that defined it is reported. Deterministic from the seed.
#ifndef SPARSEGATE_APPS_OFFLINE_STATISTICS_CLUSTER_BOOTSTRAP_H_
#define SPARSEGATE_APPS_OFFLINE_STATISTICS_CLUSTER_BOOTSTRAP_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace sparsegate::offline {

using WeightedStatistic = std::function<std::optional<double>(const std::vector<double>& weight)>;

struct Interval {
  std::optional<double> value;  // at unit weights (the data as they are)
  std::optional<double> low;    // 2.5th percentile over the resamples that define it
  std::optional<double> high;   // 97.5th
  int resamples = 0;            // resamples that defined the statistic

  // True when both ends exist and the interval lies strictly above (below) `x`.
  bool Above(double x) const { return low && *low > x; }
  bool Below(double x) const { return high && *high < x; }
};

// {value, low, high, resamples}, undefined numbers as null.
nlohmann::json IntervalToJson(const Interval& interval);

// An interval's JSON as "0.812 [0.780, 0.845]" (signed: "+0.012 [-0.003, +0.027]"), for tables and
// summaries; `absent` when it has no value, "n/a" for a missing end.
std::string IntervalText(const nlohmann::json& interval, bool is_signed = false, const std::string& absent = "n/a");

// `cluster_of_row`: each row's cluster, in [0, clusters). `resamples` >= 0 (0: values only).
std::vector<Interval> ClusterBootstrap(const std::vector<int>& cluster_of_row, int resamples, uint64_t seed,
                                       const std::vector<WeightedStatistic>& statistics);

// The statistic a - b, defined where both are.
WeightedStatistic Difference(WeightedStatistic a, WeightedStatistic b);

}  // namespace sparsegate::offline

#endif  // SPARSEGATE_APPS_OFFLINE_STATISTICS_CLUSTER_BOOTSTRAP_H_

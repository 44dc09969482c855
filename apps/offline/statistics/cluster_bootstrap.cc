#include "apps/offline/statistics/cluster_bootstrap.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "trainer_plugin/stats.h"

namespace sparsegate::offline {
namespace {

// Linear interpolation between order statistics (the "type 7" rule of R and numpy).
double Quantile(const std::vector<double>& sorted, double q) {
  const double position = q * static_cast<double>(sorted.size() - 1);
  const size_t below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(below + 1, sorted.size() - 1);
  return sorted[below] + (position - static_cast<double>(below)) * (sorted[above] - sorted[below]);
}

}  // namespace

nlohmann::json IntervalToJson(const Interval& interval) {
  return {{"value", plugin::NumberOrNull(interval.value)},
          {"low", plugin::NumberOrNull(interval.low)},
          {"high", plugin::NumberOrNull(interval.high)},
          {"resamples", interval.resamples}};
}

std::string IntervalText(const nlohmann::json& interval, bool is_signed, const std::string& absent) {
  if (!interval.is_object() || !interval.contains("value") || !interval["value"].is_number()) return absent;
  auto text = [&](const char* key) {
    const nlohmann::json& v = interval.contains(key) ? interval[key] : nlohmann::json();
    if (!v.is_number()) return std::string("n/a");
    return is_signed ? absl::StrFormat("%+.3f", v.get<double>()) : absl::StrFormat("%.3f", v.get<double>());
  };
  return absl::StrCat(text("value"), " [", text("low"), ", ", text("high"), "]");
}

std::vector<Interval> ClusterBootstrap(const std::vector<int>& cluster_of_row, int resamples, uint64_t seed,
                                       const std::vector<WeightedStatistic>& statistics) {
  const size_t n = cluster_of_row.size();
  int clusters = 0;
  for (int c : cluster_of_row) clusters = std::max(clusters, c + 1);
  std::vector<Interval> out(statistics.size());
  std::vector<double> weight(n, 1.0);
  for (size_t s = 0; s < statistics.size(); ++s) out[s].value = statistics[s](weight);

  std::vector<std::vector<double>> draws(statistics.size());
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> pick(0, std::max(0, clusters - 1));
  std::vector<double> drawn(clusters);
  for (int b = 0; b < resamples && clusters > 0; ++b) {
    std::fill(drawn.begin(), drawn.end(), 0.0);
    for (int k = 0; k < clusters; ++k) drawn[pick(rng)] += 1;
    for (size_t i = 0; i < n; ++i) weight[i] = drawn[cluster_of_row[i]];
    for (size_t s = 0; s < statistics.size(); ++s) {
      if (std::optional<double> v = statistics[s](weight); v && std::isfinite(*v)) draws[s].push_back(*v);
    }
  }
  for (size_t s = 0; s < statistics.size(); ++s) {
    std::vector<double>& d = draws[s];
    out[s].resamples = static_cast<int>(d.size());
    if (d.empty()) continue;
    std::sort(d.begin(), d.end());
    out[s].low = Quantile(d, 0.025);
    out[s].high = Quantile(d, 0.975);
  }
  return out;
}

WeightedStatistic Difference(WeightedStatistic a, WeightedStatistic b) {
  return [a = std::move(a), b = std::move(b)](const std::vector<double>& w) -> std::optional<double> {
    std::optional<double> x = a(w), y = b(w);
    if (!x || !y) return std::nullopt;
    return *x - *y;
  };
}

}  // namespace sparsegate::offline

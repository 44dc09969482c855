#include "apps/cli/feature_json.h"

namespace sparsegate::cli {

void AddFeaturesToJson(const ScoredPrompt& features, bool with_hidden, nlohmann::json* row) {
  (*row)["token_count"] = features.token_count;
  (*row)["truncated"] = features.truncated;
  (*row)["original_token_count"] = features.original_token_count;
  nlohmann::json sets = nlohmann::json::array();
  for (const FeatureSet& set : features.features) {
    nlohmann::json metrics = nlohmann::json::object();
    for (int m = 0; m < kNumMetrics; ++m) metrics[MetricNames()[m]] = set.metrics[m];
    sets.push_back({{"layer", set.layer}, {"pooling", PoolingName(set.pooling)}, {"metrics", std::move(metrics)}});
  }
  (*row)["features"] = std::move(sets);
  if (with_hidden && !features.features.empty()) (*row)["hidden"] = features.features.front().hidden;
}

}  // namespace sparsegate::cli

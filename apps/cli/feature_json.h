// JSON form of a prompt's features, shared by the offline commands:
//   {"token_count": N, "truncated": false,
//    "features": [{"layer": L, "pooling": "last_token", "metrics": {...}}]}
// With the hidden vector, "hidden" holds the pooled vector of the first
// feature set (first requested layer, first pooling).
#ifndef SPARSEGATE_APPS_CLI_FEATURE_JSON_H_
#define SPARSEGATE_APPS_CLI_FEATURE_JSON_H_

#include "difficulty_service/core/engine/scoring_engine.h"
#include "nlohmann/json.hpp"

namespace sparsegate::cli {

void AddFeaturesToJson(const ScoredPrompt& features, bool with_hidden, nlohmann::json* row);

}  // namespace sparsegate::cli

#endif  // SPARSEGATE_APPS_CLI_FEATURE_JSON_H_

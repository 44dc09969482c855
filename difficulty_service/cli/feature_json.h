// JSON form of a prompt's features, shared by the offline commands:
//   {"token_count": N, "truncated": false,
//    "features": [{"layer": L, "pooling": "last_token", "metrics": {...}}]}
// With the hidden vector, "hidden" holds the pooled vector of the first
// feature set (first requested layer, first pooling).
#pragma once

#include "difficulty_service/engine/scoring_engine.h"
#include "nlohmann/json.hpp"

namespace sparsegate::cli {

void AddFeaturesToJson(const PromptFeatures& features, bool with_hidden, nlohmann::json* row);

}  // namespace sparsegate::cli

// Observed outcomes for offline jobs (filter, evaluate): an outcomes file is JSONL of
// {"id": ..., "successes": S, "trials": T}, one row per prompt id, 0 <= S <= T, T >= 1.
// Ids may be strings or integers in both the dataset and the outcomes file; both name a prompt by
// their text, so "7" and 7 are the same prompt.
#ifndef SPARSEGATE_APPS_OFFLINE_DATASET_OUTCOMES_H_
#define SPARSEGATE_APPS_OFFLINE_DATASET_OUTCOMES_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace sparsegate::offline {

struct Outcome {
  int32_t successes = 0;
  int32_t trials = 0;
};

// A non-empty string or an integer as text; nullopt for anything else.
std::optional<std::string> IdText(const nlohmann::json& id);

// Checks 0 <= successes <= trials, trials >= 1, both integers in int32; the message names the values.
absl::StatusOr<Outcome> OutcomeFrom(const nlohmann::json& successes, const nlohmann::json& trials);

// The whole file by id; "" gives an empty map. Errors name FILE:LINE (a bad row, a repeated id).
absl::StatusOr<std::map<std::string, Outcome>> LoadOutcomes(const std::string& path);

}  // namespace sparsegate::offline

#endif  // SPARSEGATE_APPS_OFFLINE_DATASET_OUTCOMES_H_

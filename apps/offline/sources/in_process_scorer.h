// Scores prompts in process, with the same Batcher the server uses (tokenizer pool, token-budget
// batches of similar lengths), for the offline commands. Score() blocks until every prompt of its
// call is done and returns one result per prompt, in order: the features, or the error that
// prompt alone caused (empty, too long, invalid UTF-8, ...). One bad prompt fails only itself.
#ifndef SPARSEGATE_APPS_OFFLINE_SOURCES_IN_PROCESS_SCORER_H_
#define SPARSEGATE_APPS_OFFLINE_SOURCES_IN_PROCESS_SCORER_H_

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "difficulty_service/core/engine/scoring_engine.h"
#include "difficulty_service/service/batcher/batcher.h"

namespace sparsegate::offline {

class InProcessScorer {
 public:
  // `token_budget` is fitted to a GPU's free memory first (ScoringEngine::FitTokenBudget), which
  // fails when not even one longest prompt fits.
  static absl::StatusOr<std::unique_ptr<InProcessScorer>> Create(const ScoringEngine& engine, FeatureRequest request,
                                                                 bool truncate_left, int64_t token_budget);

  std::vector<absl::StatusOr<ScoredPrompt>> Score(std::vector<PromptInput> inputs);

 private:
  InProcessScorer(FeatureRequest request, bool truncate_left, std::unique_ptr<Batcher> batcher);

  static constexpr int kMaxInFlight = 1024;  // prompts queued at once: the batcher's admission bound

  FeatureRequest request_;
  bool truncate_left_;
  std::unique_ptr<Batcher> batcher_;
};

}  // namespace sparsegate::offline

#endif  // SPARSEGATE_APPS_OFFLINE_SOURCES_IN_PROCESS_SCORER_H_

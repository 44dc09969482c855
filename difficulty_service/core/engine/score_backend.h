// What the batcher needs of a model, and nothing more: turn one prompt into validated token ids,
// and score a batch of prepared prompts in one forward pass. ScoringEngine implements it; the
// batcher's worker drives it (TEI's Backend trait plays the same part).
//
// Prepare is called from the tokenizer threads, Run from one worker thread at a time; both are
// const and must be safe to call concurrently with each other.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_ENGINE_SCORE_BACKEND_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_ENGINE_SCORE_BACKEND_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "difficulty_service/core/features/feature_extractor.h"
#include "difficulty_service/core/model/prefix_cache.h"

namespace sparsegate {

struct PromptInput {
  std::optional<std::string> text;      // exactly one of text and ids
  std::optional<std::vector<int32_t>> ids;
  bool apply_chat_template = false;
};

struct PreparedPrompt {
  std::vector<int32_t> ids;
  bool truncated = false;
  int64_t original_token_count = 0;  // before truncation; ids.size() when not truncated
};

// One prompt's result: its feature sets as the backend computes them (the trainer plugin flattens
// them into plugin::PromptFeatures).
struct ScoredPrompt {
  int64_t token_count = 0;
  bool truncated = false;
  int64_t original_token_count = 0;
  std::vector<FeatureSet> features;
};

// What the forward passes have done since load, for the service's metrics.
struct ForwardCounters {
  int64_t computed_tokens = 0;  // tokens the layers ran on: a shared prefix once per batch, a cached one not at all
  PrefixCacheStats prefix_cache;  // all zero without a cache
};

class ScoreBackend {
 public:
  virtual ~ScoreBackend() = default;

  // Tokenizes and validates one prompt; InvalidArgument / FailedPrecondition name what is wrong
  // (without the prompt's index, which the caller knows).
  virtual absl::StatusOr<PreparedPrompt> Prepare(const PromptInput& input, bool truncate_left) const = 0;

  // Scores prompts[i] as requests[i] asks, in one forward pass. Throws what libtorch throws; the
  // batcher fails that batch's jobs and goes on.
  virtual std::vector<ScoredPrompt> Run(const std::vector<const PreparedPrompt*>& prompts,
                                        const std::vector<const FeatureRequest*>& requests) const = 0;

  // Names the model whose features Run computes (its content digest): results are cached under it.
  virtual const std::string& model_digest() const = 0;

  // Run computes a prefix of at least this many tokens once for the prompts of a batch that share
  // it; 0 when it never shares. The batcher then puts prompts that share a prefix together.
  virtual int64_t shared_prefix_min_tokens() const { return 0; }

  // Safe to call from any thread, concurrently with Run.
  virtual ForwardCounters forward_counters() const { return {}; }
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_ENGINE_SCORE_BACKEND_H_

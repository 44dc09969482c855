// One scoring request as it moves through the batcher: its prompts, what to
// compute, and where the results go.
//
// The submitter fills the inputs and on_done; the batcher fills prepared,
// results and timing, and calls on_done exactly once, from one of its
// threads, with OK or the reason the job ended (a bad prompt, cancellation,
// a passed deadline, shutdown).
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_SCORE_JOB_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_SCORE_JOB_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "difficulty_service/core/common/clock.h"
#include "difficulty_service/core/engine/score_backend.h"

namespace sparsegate {

struct JobTiming {
  double tokenize_ms = 0;
  double queue_ms = 0;    // from enqueue until the job's last batch started
  double forward_ms = 0;  // sum over the batches that held its prompts
};

struct ScoreJob {
  using Clock = SteadyClock;

  std::vector<PromptInput> prompts;
  FeatureRequest features;
  bool truncate_left = false;
  Clock::time_point deadline = Clock::time_point::max();
  // Polled before a job's prompts are batched; may be empty.
  std::function<bool()> is_cancelled;
  std::function<void(const absl::Status&, ScoreJob&)> on_done;

  // Written by the batcher.
  std::vector<PreparedPrompt> prepared;
  std::vector<ScoredPrompt> results;
  std::vector<std::string> cache_keys;  // per prompt, when the result cache is on
  JobTiming timing;
  Clock::time_point enqueued;
  int remaining = 0;  // prompts not yet scored; touched by the worker only
  int64_t admitted_bytes = 0;  // what Submit counted against max_queued_bytes, released by Finish
  std::atomic<bool> finished{false};
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_SCORE_JOB_H_

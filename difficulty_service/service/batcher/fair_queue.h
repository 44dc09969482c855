// The tokenized prompts waiting for the model worker, and the order they are served in.
//
// Fair order: prompt k of the prompts a job appends while the worker serves round r is due in
// round r + 1 + k, so a one-prompt request overtakes the tail of a 256-prompt one instead of
// waiting behind all of it (fair share per request). NextBatch cuts the next batch under the
// padded token budget by CutBatch (batch_cut.h): it takes the first prompt in that order, so none
// starves (a round's prompts are fixed before it is served), and fills up with the waiting prompts
// that share the longest prefix with it (at least shared_prefix_min_tokens; 0 never looks), then
// those closest to it in length, so that shared prefixes run once and padding stays small. A
// prompt taken brings the prompts appended with it that share its prefix (its group). Before cutting, the prompts of jobs that have
// finished, were cancelled or passed their deadline leave the queue, before any forward pass is
// spent on them; the caller ends those jobs.
//
// Not thread-safe: the batcher calls it under its own lock.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_FAIR_QUEUE_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_FAIR_QUEUE_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "difficulty_service/service/batcher/score_job.h"

namespace sparsegate {

struct QueuedPrompt {
  std::shared_ptr<ScoreJob> job;
  int index = 0;       // into job->prepared
  int64_t length = 0;  // tokens
  int64_t round = 0;   // fair order: (round, arrival)
  int64_t arrival = 0;
  // Prompts appended together that share a prefix (a prompt and its variants) share a group,
  // which batches take whole (CutBatch); the arrival of the group's first prompt.
  int64_t group = 0;
};

class FairQueue {
 public:
  FairQueue(int64_t token_budget, int max_batch_prompts, int64_t shared_prefix_min_tokens = 0)
      : token_budget_(token_budget),
        max_batch_prompts_(max_batch_prompts),
        shared_prefix_min_tokens_(shared_prefix_min_tokens) {}

  // Queues the prompts of `job` at `indices` (into job->prepared), in that order.
  void Append(const std::shared_ptr<ScoreJob>& job, const std::vector<int>& indices);

  struct Cut {
    std::vector<QueuedPrompt> batch;    // the next forward pass, empty when nothing waits
    std::vector<QueuedPrompt> expired;  // left the queue: their job finished, was cancelled or is late
  };
  Cut NextBatch(ScoreJob::Clock::time_point now);

  // Empties the queue (at shutdown).
  std::deque<QueuedPrompt> TakeAll();

  size_t size() const { return waiting_.size(); }

 private:
  const int64_t token_budget_;
  const int max_batch_prompts_;
  const int64_t shared_prefix_min_tokens_;
  std::deque<QueuedPrompt> waiting_;  // in fair order
  int64_t round_ = 0;                 // the round of the last batch's first prompt
  int64_t arrivals_ = 0;
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_FAIR_QUEUE_H_

// Admission, tokenization and batching in front of the one model worker: the three stages of
// the service between the handlers and the model.
//
//   Submit -> admit (admission.h) -> tokenize on a lane, answer repeats from the cache
//          -> admit tokens -> FairQueue::Append (fair_queue.h)
//   worker: FairQueue::NextBatch -> ScoreBackend::Run (engine/score_backend.h) -> on_done
//
// Submit() never blocks: it counts the job's prompts and bytes against the admission bounds and
// refuses at once with RESOURCE_EXHAUSTED when they are full, otherwise posts the job to a
// tokenizer lane and returns. Once tokenized, its tokens are counted against the third bound (the
// job then fails with RESOURCE_EXHAUSTED through on_done if the queue holds too many). Requests
// holding more than large_request_bytes of text are tokenized on a lane of their own, so that one
// that takes seconds never delays the others. One worker thread runs every forward pass, with
// every intra-op thread: batches are cut from the fair queue under a padded token budget (the
// forward packs a batch's tokens, so only a GPU's attention computes the padding; the budget
// still counts it, as memory is bounded by it).
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_BATCHER_BATCHER_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_BATCHER_BATCHER_H_

#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/statusor.h"
#include "difficulty_service/batcher/admission.h"
#include "difficulty_service/batcher/fair_queue.h"
#include "difficulty_service/batcher/result_cache.h"
#include "difficulty_service/batcher/score_job.h"
#include "difficulty_service/engine/score_backend.h"
#include "difficulty_service/metrics/service_metrics.h"

namespace sparsegate {

class ScoringEngine;

struct BatcherOptions {
  int64_t token_budget = 8192;       // padded tokens per forward pass
  int max_batch_prompts = 64;
  int64_t max_queued_prompts = 4096;  // admitted but not yet scored
  // Prompt text and token ids held by admitted jobs until they are answered: bounds the memory a
  // burst of large requests can take, which a prompt count alone does not.
  int64_t max_queued_bytes = int64_t{1} << 30;
  // Tokens of admitted prompts until scored, checked once a job is tokenized: bounds the forward
  // work queued, which neither prompts nor bytes measure (a few long prompts weigh as many short).
  int64_t max_queued_tokens = int64_t{1} << 20;
  int tokenizer_threads = 1;
  int64_t large_request_bytes = int64_t{1} << 20;  // tokenized on the large-request lane above this
  int intra_op_threads = 0;           // 0: one per available core
  // Bytes of scored prompts kept for repeats (result_cache.h); 0 keeps none.
  int64_t cache_bytes = 0;
};

class Batcher {
 public:
  // The one way the server and the offline jobs build a batcher on a loaded, warmed-up engine:
  // options.token_budget is fitted to the device's free memory and the engine handed to the
  // batcher's worker (ScoringEngine::HandOverToWorker; the fit is logged on a GPU). Call on the
  // thread that loaded the engine. ResourceExhausted when not even one longest prompt fits.
  static absl::StatusOr<std::unique_ptr<Batcher>> Start(const ScoringEngine& engine, BatcherOptions options,
                                                        ServiceMetrics* metrics = nullptr);
  // `metrics` (may be null) records admission, tokenization, queueing and every forward pass; it
  // must outlive the batcher, as must `backend`. Uses options.token_budget as given (Start fits it).
  Batcher(const ScoreBackend& backend, BatcherOptions options, ServiceMetrics* metrics = nullptr);
  // Waits for running work, then ends every queued job with UNAVAILABLE.
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // OK: the job is admitted and on_done will be called. Otherwise the job is
  // refused (RESOURCE_EXHAUSTED) and on_done is never called.
  absl::Status Submit(std::shared_ptr<ScoreJob> job);

  // Prompts admitted and not yet scored, failed or dropped: 0 when the batcher holds no work.
  int64_t admitted_prompts() const { return admission_.prompts(); }
  int64_t cache_bytes() const { return cache_.bytes(); }

 private:
  struct Lanes;  // the tokenizer lanes and the worker thread

  // The tokenize-and-admit stage, on a tokenizer lane.
  void Tokenize(const std::shared_ptr<ScoreJob>& job);
  // Queues the job's prompts at `indices` (the others were answered from the cache).
  void Enqueue(const std::shared_ptr<ScoreJob>& job, const std::vector<int>& indices);
  void Drain();  // the worker: cuts and runs batches until the queue is empty
  void RunBatch(std::vector<QueuedPrompt>& batch);
  // Ends the jobs of prompts that left the queue unscored.
  void EndExpired(const std::vector<QueuedPrompt>& expired, ScoreJob::Clock::time_point now);
  // A queued prompt leaves the admission counts (scored, failed or dropped).
  void Release(const QueuedPrompt& prompt);
  void Finish(ScoreJob& job, const absl::Status& status);
  absl::Status Refuse(const char* bound, absl::Status status, int64_t prompts);

  const ScoreBackend& backend_;
  const BatcherOptions options_;
  ServiceMetrics* const metrics_;
  ResultCache cache_;
  AdmissionBounds admission_;

  mutable std::mutex mu_;
  FairQueue queue_;  // guarded by mu_
  bool drain_scheduled_ = false;
  bool stopping_ = false;

  std::unique_ptr<Lanes> lanes_;  // last: its threads stop first
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_BATCHER_BATCHER_H_

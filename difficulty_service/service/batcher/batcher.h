// Admission, tokenization and batching in front of the one model worker: the stages of the
// service between the handlers and the model, joined.
//
//   Submit -> admit (admission.h) -> TokenizeStage (tokenize_stage.h: tokens, cache, token bound)
//          -> FairQueue::Append (fair_queue.h)
//   worker: FairQueue::NextBatch -> ScoreBackend::Run (engine/score_backend.h) -> on_done
//
// Submit() never blocks: it counts the job's prompts and bytes against the admission bounds and
// refuses at once with RESOURCE_EXHAUSTED when they are full, otherwise posts the job to the
// tokenize stage and returns; a job that the stage ends (a bad prompt, the token bound) fails
// through on_done. One worker thread runs every forward pass, with every intra-op thread: batches
// are cut from the fair queue under a padded token budget (the forward packs a batch's tokens, so
// only a GPU's attention computes the padding; the budget still counts it, as memory is bounded
// by it).
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_BATCHER_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_BATCHER_H_

#include <memory>
#include <mutex>
#include <vector>

#include "absl/status/statusor.h"
#include "difficulty_service/core/engine/score_backend.h"
#include "difficulty_service/service/batcher/admission.h"
#include "difficulty_service/service/batcher/fair_queue.h"
#include "difficulty_service/service/batcher/result_cache.h"
#include "difficulty_service/service/batcher/score_job.h"
#include "difficulty_service/service/metrics/service_metrics.h"

namespace sparsegate {

class ScoringEngine;
class TokenizeStage;
struct Tokenized;

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
  struct Worker;  // the worker thread, kept out of this header with the stage's lanes

  // After the tokenize stage: ends the job, or queues the prompts it left to score.
  void AfterTokenize(const std::shared_ptr<ScoreJob>& job, Tokenized tokenized);
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
  ForwardCounters counted_;  // the backend's counters as last given to metrics_ (worker thread only)
  ResultCache cache_;
  AdmissionBounds admission_;

  mutable std::mutex mu_;
  FairQueue queue_;  // guarded by mu_
  bool drain_scheduled_ = false;
  bool stopping_ = false;

  // Last: their threads stop first.
  std::unique_ptr<TokenizeStage> tokenize_;
  std::unique_ptr<Worker> worker_;
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_BATCHER_H_

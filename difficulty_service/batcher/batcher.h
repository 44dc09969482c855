// Admission, tokenization and batching in front of the one model worker.
//
// Submit() never blocks: it counts the job's prompts and bytes against bounds
// on what is queued and refuses at once with RESOURCE_EXHAUSTED when the queue
// is full, otherwise posts the job to the tokenizer pool and returns. Once
// tokenized, its tokens are counted against a third bound (the job then fails
// with RESOURCE_EXHAUSTED through on_done if the queue holds too many).
// Tokenized prompts wait in one queue, in fair order: prompt i of a job is
// due in round r + 1 + i, r being the round the worker serves when the job is
// queued, so a one-prompt request overtakes the tail of a 256-prompt one
// instead of waiting behind all of it (fair share per request). The worker cuts
// batches under a padded token budget (longest prompt x prompts <= token_budget;
// the rule is CutBatch in batch_cut.h): each batch takes the first prompt in
// that order, so none starves (a round's prompts are fixed before it is served),
// and fills up with the waiting prompts closest to it in length, so padding
// stays small (the forward packs a batch's tokens, so only a GPU's attention
// computes the padding; the budget still counts it, as memory is bounded by it).
// Requests holding more than large_request_bytes of text are tokenized on a lane
// of their own, so that one that takes seconds never delays the others.
// Prompts of cancelled jobs or jobs past their deadline are dropped when a
// batch is cut, before any forward pass is spent on them.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_BATCHER_BATCHER_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_BATCHER_BATCHER_H_

#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>

#include "difficulty_service/batcher/result_cache.h"
#include "difficulty_service/batcher/score_job.h"
#include "difficulty_service/engine/scoring_engine.h"
#include "difficulty_service/metrics/service_metrics.h"

namespace sparsegate {

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
  // must outlive the batcher. Uses options.token_budget as given (Start fits it).
  Batcher(const ScoringEngine& engine, BatcherOptions options, ServiceMetrics* metrics = nullptr);
  // Waits for running work, then ends every queued job with UNAVAILABLE.
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // OK: the job is admitted and on_done will be called. Otherwise the job is
  // refused (RESOURCE_EXHAUSTED) and on_done is never called.
  absl::Status Submit(std::shared_ptr<ScoreJob> job);

  // Prompts admitted and not yet scored, failed or dropped: 0 when the batcher holds no work.
  int64_t admitted_prompts() const { return admitted_prompts_.load(); }
  int64_t cache_bytes() const { return cache_.bytes(); }

 private:
  struct Item {
    std::shared_ptr<ScoreJob> job;
    int index;
    int64_t length;
    int64_t round;     // fair order: (round, arrival)
    int64_t arrival;
  };

  void Tokenize(const std::shared_ptr<ScoreJob>& job);
  // Queues the job's prompts at `indices` (the others were answered from the cache).
  void Enqueue(const std::shared_ptr<ScoreJob>& job, const std::vector<int>& indices);
  void Drain();  // runs on the single worker thread
  // With mu_ held: ends the jobs that are cancelled or past their deadline, then takes the next
  // batch (batch_cut.h) out of pending_.
  std::vector<Item> NextBatch();
  void RunBatch(std::vector<Item>& batch);
  // A queued prompt leaves the admission counts (scored, failed or dropped).
  void Release(const Item& item);
  void Finish(ScoreJob& job, const absl::Status& status);

  const ScoringEngine& engine_;
  const BatcherOptions options_;
  ServiceMetrics* const metrics_;
  ResultCache cache_;
  boost::asio::thread_pool tokenizer_pool_;
  boost::asio::thread_pool large_request_pool_{1};
  boost::asio::thread_pool worker_pool_{1};

  mutable std::mutex mu_;
  std::deque<Item> pending_;     // fair order (see above)
  int64_t round_ = 0;            // the round of the last batch's first prompt
  int64_t arrivals_ = 0;
  bool drain_scheduled_ = false;
  bool stopping_ = false;
  std::atomic<int64_t> admitted_prompts_{0};
  std::atomic<int64_t> admitted_bytes_{0};
  std::atomic<int64_t> admitted_tokens_{0};
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_BATCHER_BATCHER_H_

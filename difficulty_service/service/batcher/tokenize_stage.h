// The tokenize-and-admit stage, between a job's admission and the fair queue. On a lane of its
// own, each job's prompts are prepared by the backend (tokenized, truncated or refused), prompts
// scored before are answered from the result cache, and the tokens left to score are counted
// against the admission's token bound. Jobs of more than large_request_bytes go to a lane of their
// own, so that one that takes seconds never delays the others.
//
// The stage does not end jobs: it hands each one on with what it found (Tokenized), and leaves the
// admission counts as the job's next step expects them (a job that does not go on holds no prompts).
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_TOKENIZE_STAGE_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_TOKENIZE_STAGE_H_

#include <boost/asio/thread_pool.hpp>

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "difficulty_service/core/engine/score_backend.h"
#include "difficulty_service/service/batcher/admission.h"
#include "difficulty_service/service/batcher/result_cache.h"
#include "difficulty_service/service/batcher/score_job.h"
#include "difficulty_service/service/metrics/service_metrics.h"

namespace sparsegate {

struct Tokenized {
  // Not OK: the job ends with this status (a bad prompt, or the token bound) and holds no prompts
  // of the admission any more. OK: `misses` are the prompts still to score, which alone remain
  // admitted; empty when the cache answered them all.
  absl::Status status;
  std::vector<int> misses;
};

class TokenizeStage {
 public:
  using Next = std::function<void(const std::shared_ptr<ScoreJob>&, Tokenized)>;

  // `backend`, `cache`, `admission` and `metrics` (may be null) must outlive the stage.
  TokenizeStage(const ScoreBackend& backend, ResultCache& cache, AdmissionBounds& admission,
                ServiceMetrics* metrics, int threads, int64_t large_request_bytes);
  TokenizeStage(const TokenizeStage&) = delete;
  TokenizeStage& operator=(const TokenizeStage&) = delete;

  // Tokenizes an admitted job (job->admitted_bytes set) on a lane, then calls next(job, result)
  // on that lane.
  void Post(std::shared_ptr<ScoreJob> job, Next next);
  // Waits for every posted job.
  void Join();

 private:
  Tokenized Tokenize(ScoreJob& job);

  const ScoreBackend& backend_;
  ResultCache& cache_;
  AdmissionBounds& admission_;
  ServiceMetrics* const metrics_;
  const int64_t large_request_bytes_;
  boost::asio::thread_pool lane_;
  boost::asio::thread_pool large_request_lane_{1};
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_TOKENIZE_STAGE_H_

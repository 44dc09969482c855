#include "difficulty_service/service/batcher/batcher.h"

#include <ATen/Parallel.h>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <thread>

#include "absl/strings/str_cat.h"
#include "difficulty_service/core/common/clock.h"
#include "difficulty_service/core/engine/scoring_engine.h"
#include "difficulty_service/service/batcher/tokenize_stage.h"

namespace sparsegate {

struct Batcher::Worker {
  boost::asio::thread_pool thread{1};
};

absl::StatusOr<std::unique_ptr<Batcher>> Batcher::Start(const ScoringEngine& engine, BatcherOptions options,
                                                        ServiceMetrics* metrics) {
  absl::StatusOr<TokenBudgetFit> fit = engine.HandOverToWorker(options.token_budget);
  if (!fit.ok()) return fit.status();
  if (engine.device().is_cuda()) spdlog::info("{}", fit->Describe(options.token_budget));
  options.token_budget = fit->tokens;
  return std::make_unique<Batcher>(engine, std::move(options), metrics);
}

Batcher::Batcher(const ScoreBackend& backend, BatcherOptions options, ServiceMetrics* metrics)
    : backend_(backend),
      options_(options),
      metrics_(metrics),
      counted_(backend.forward_counters()),  // the warm-up pass is not the service's work
      cache_(backend.model_digest(), options.cache_bytes),
      admission_({options.max_queued_prompts, options.max_queued_bytes, options.max_queued_tokens}),
      queue_(options.token_budget, options.max_batch_prompts, backend.shared_prefix_min_tokens()),
      tokenize_(std::make_unique<TokenizeStage>(backend, cache_, admission_, metrics, options.tokenizer_threads,
                                                options.large_request_bytes)),
      worker_(std::make_unique<Worker>()) {
  // libtorch's own default here was one thread on two cores (it halves the
  // forward's speed), and with OpenMP the setting is per thread: so the
  // worker sets it on itself.
  int threads = options_.intra_op_threads > 0 ? options_.intra_op_threads
                                              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  boost::asio::post(worker_->thread, [threads] { at::set_num_threads(threads); });
}

Batcher::~Batcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  tokenize_->Join();
  worker_->thread.join();
  std::deque<QueuedPrompt> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left = queue_.TakeAll();
  }
  for (QueuedPrompt& prompt : left) Finish(*prompt.job, absl::UnavailableError("the service is shutting down"));
}

absl::Status Batcher::Refuse(const char* bound, absl::Status status, int64_t prompts) {
  if (metrics_) {
    if (status.code() == absl::StatusCode::kResourceExhausted) metrics_->CountRejection(bound);
    metrics_->CountPrompts(status.code(), prompts);
  }
  return status;
}

absl::Status Batcher::Submit(std::shared_ptr<ScoreJob> job) {
  const int64_t n = static_cast<int64_t>(job->prompts.size());
  int64_t bytes = 0;
  for (const PromptInput& p : job->prompts) {
    if (p.text) bytes += static_cast<int64_t>(p.text->size());
    if (p.ids) bytes += static_cast<int64_t>(p.ids->size() * sizeof(int32_t));
  }
  const char* bound = "";
  if (absl::Status admitted = admission_.AdmitJob(n, bytes, &bound); !admitted.ok()) {
    return Refuse(bound, std::move(admitted), n);
  }
  job->admitted_bytes = bytes;
  tokenize_->Post(std::move(job), [this](const std::shared_ptr<ScoreJob>& job, Tokenized tokenized) {
    AfterTokenize(job, std::move(tokenized));
  });
  return absl::OkStatus();
}

void Batcher::AfterTokenize(const std::shared_ptr<ScoreJob>& job, Tokenized tokenized) {
  if (!tokenized.status.ok() || tokenized.misses.empty()) {
    Finish(*job, tokenized.status);
    return;
  }
  job->remaining = static_cast<int>(tokenized.misses.size());
  job->enqueued = ScoreJob::Clock::now();
  bool schedule = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.Append(job, tokenized.misses);
    if (!drain_scheduled_ && !stopping_) schedule = drain_scheduled_ = true;
  }
  if (schedule) boost::asio::post(worker_->thread, [this] { Drain(); });
}

void Batcher::Drain() {
  for (;;) {
    const auto now = ScoreJob::Clock::now();
    FairQueue::Cut cut;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        drain_scheduled_ = false;
        return;
      }
      cut = queue_.NextBatch(now);
      if (cut.batch.empty()) drain_scheduled_ = false;
    }
    EndExpired(cut.expired, now);
    if (cut.batch.empty()) return;
    RunBatch(cut.batch);
  }
}

void Batcher::EndExpired(const std::vector<QueuedPrompt>& expired, ScoreJob::Clock::time_point now) {
  for (const QueuedPrompt& prompt : expired) {
    Release(prompt);
    const ScoreJob& job = *prompt.job;
    Finish(*prompt.job, now >= job.deadline ? absl::DeadlineExceededError("deadline passed before the prompts were scored")
                                            : absl::CancelledError("the caller cancelled the request"));
  }
}

void Batcher::RunBatch(std::vector<QueuedPrompt>& batch) {
  const auto start = ScoreJob::Clock::now();
  std::vector<const PreparedPrompt*> prompts;
  std::vector<const FeatureRequest*> requests;
  for (const QueuedPrompt& item : batch) {
    prompts.push_back(&item.job->prepared[item.index]);
    requests.push_back(&item.job->features);
  }
  std::vector<ScoredPrompt> results;
  try {
    results = backend_.Run(prompts, requests);
  } catch (const std::exception& e) {
    // libtorch reports errors as exceptions (c10::Error). One batch failing must not end the
    // process: its jobs fail, and the worker goes on with the next batch.
    const absl::Status failed = absl::InternalError(absl::StrCat("the forward pass failed: ", e.what()));
    for (const QueuedPrompt& item : batch) {
      Release(item);
      Finish(*item.job, failed);
    }
    return;
  }
  const double forward_ms = MillisSince(start);
  if (metrics_) {
    int64_t tokens = 0, longest = 0;
    for (const QueuedPrompt& item : batch) {
      tokens += item.length;
      longest = std::max(longest, item.length);
    }
    metrics_->CountBatch(static_cast<int64_t>(batch.size()), tokens, longest * static_cast<int64_t>(batch.size()),
                         forward_ms / 1e3);
    const ForwardCounters now = backend_.forward_counters();
    metrics_->CountForwardWork(now.computed_tokens - counted_.computed_tokens,
                               now.prefix_cache.hit_tokens - counted_.prefix_cache.hit_tokens,
                               now.prefix_cache.stored_blocks - counted_.prefix_cache.stored_blocks,
                               now.prefix_cache.evicted_blocks - counted_.prefix_cache.evicted_blocks);
    counted_ = now;
  }

  std::vector<ScoreJob*> seen;
  for (size_t i = 0; i < batch.size(); ++i) {
    ScoreJob& job = *batch[i].job;
    if (cache_.enabled()) cache_.Insert(job.cache_keys[batch[i].index], results[i]);
    job.results[batch[i].index] = std::move(results[i]);
    if (std::find(seen.begin(), seen.end(), &job) == seen.end()) {
      seen.push_back(&job);
      job.timing.forward_ms += forward_ms;
      job.timing.queue_ms = std::max(job.timing.queue_ms, MillisSince(job.enqueued, start));
    }
    Release(batch[i]);
  }
  for (const QueuedPrompt& item : batch)
    if (--item.job->remaining == 0) Finish(*item.job, absl::OkStatus());
}

void Batcher::Release(const QueuedPrompt& prompt) {
  admission_.ReleasePrompts(1);
  admission_.ReleaseTokens(prompt.length);
}

void Batcher::Finish(ScoreJob& job, const absl::Status& status) {
  if (job.finished.exchange(true)) return;
  admission_.ReleaseBytes(job.admitted_bytes);
  if (metrics_) {
    metrics_->CountPrompts(status.code(), static_cast<int64_t>(job.prompts.size()));
    if (status.ok()) metrics_->queue_seconds.Observe(job.timing.queue_ms / 1e3);
  }
  if (job.on_done) job.on_done(status, job);
}

}  // namespace sparsegate

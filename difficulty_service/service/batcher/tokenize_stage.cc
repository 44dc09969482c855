#include "difficulty_service/service/batcher/tokenize_stage.h"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "difficulty_service/core/common/clock.h"

namespace sparsegate {

TokenizeStage::TokenizeStage(const ScoreBackend& backend, ResultCache& cache, AdmissionBounds& admission,
                             ServiceMetrics* metrics, int threads, int64_t large_request_bytes)
    : backend_(backend),
      cache_(cache),
      admission_(admission),
      metrics_(metrics),
      large_request_bytes_(large_request_bytes),
      lane_(std::max(1, threads)) {}

void TokenizeStage::Post(std::shared_ptr<ScoreJob> job, Next next) {
  boost::asio::thread_pool& lane = job->admitted_bytes > large_request_bytes_ ? large_request_lane_ : lane_;
  boost::asio::post(lane, [this, job = std::move(job), next = std::move(next)] { next(job, Tokenize(*job)); });
}

void TokenizeStage::Join() {
  lane_.join();
  large_request_lane_.join();
}

Tokenized TokenizeStage::Tokenize(ScoreJob& job) {
  const auto start = ScoreJob::Clock::now();
  const int64_t n = static_cast<int64_t>(job.prompts.size());
  job.prepared.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    auto prepared = backend_.Prepare(job.prompts[i], job.truncate_left);
    if (!prepared.ok()) {
      admission_.ReleasePrompts(n);
      return {absl::Status(prepared.status().code(), absl::StrCat("prompt ", i, ": ", prepared.status().message())),
              {}};
    }
    job.prepared[i] = *std::move(prepared);
  }
  job.timing.tokenize_ms = MillisSince(start);
  if (metrics_) metrics_->tokenize_seconds.Observe(job.timing.tokenize_ms / 1e3);
  // Prompts scored before with the same model and options are answered from the cache; only the
  // others are queued, and only their tokens count against the token bound.
  job.results.resize(n);
  Tokenized out;
  if (cache_.enabled()) job.cache_keys.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    if (cache_.enabled()) {
      job.cache_keys[i] = cache_.Key(job.prepared[i], job.features);
      if (std::optional<ScoredPrompt> hit = cache_.Find(job.cache_keys[i])) {
        job.results[i] = *std::move(hit);
        continue;
      }
    }
    out.misses.push_back(static_cast<int>(i));
  }
  const int64_t hits = n - static_cast<int64_t>(out.misses.size());
  if (metrics_ && cache_.enabled()) metrics_->CountCache(hits, static_cast<int64_t>(out.misses.size()));
  int64_t tokens = 0;
  for (int i : out.misses) tokens += static_cast<int64_t>(job.prepared[i].ids.size());
  const char* bound = "";
  if (absl::Status admitted = admission_.AdmitTokens(tokens, &bound); !admitted.ok()) {
    if (metrics_ && admitted.code() == absl::StatusCode::kResourceExhausted) metrics_->CountRejection(bound);
    admission_.ReleasePrompts(n);
    return {std::move(admitted), {}};
  }
  admission_.ReleasePrompts(hits);
  return out;
}

}  // namespace sparsegate

#include "difficulty_service/batcher/batcher.h"

#include <ATen/Parallel.h>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <iterator>
#include <thread>

#include "absl/strings/str_cat.h"
#include "difficulty_service/batcher/batch_cut.h"
#include "difficulty_service/common/clock.h"

namespace sparsegate {
absl::StatusOr<std::unique_ptr<Batcher>> Batcher::Start(const ScoringEngine& engine, BatcherOptions options,
                                                        ServiceMetrics* metrics) {
  absl::StatusOr<TokenBudgetFit> fit = engine.HandOverToWorker(options.token_budget);
  if (!fit.ok()) return fit.status();
  if (engine.device().is_cuda()) spdlog::info("{}", fit->Describe(options.token_budget));
  options.token_budget = fit->tokens;
  return std::make_unique<Batcher>(engine, std::move(options), metrics);
}

Batcher::Batcher(const ScoringEngine& engine, BatcherOptions options, ServiceMetrics* metrics)
    : engine_(engine),
      options_(options),
      metrics_(metrics),
      cache_(engine.checkpoint().content_digest(), options.cache_bytes),
      tokenizer_pool_(std::max(1, options.tokenizer_threads)) {
  // libtorch's own default here was one thread on two cores (it halves the
  // forward's speed), and with OpenMP the setting is per thread: so the
  // worker sets it on itself.
  int threads = options_.intra_op_threads > 0 ? options_.intra_op_threads
                                              : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  boost::asio::post(worker_pool_, [threads] { at::set_num_threads(threads); });
}

Batcher::~Batcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  tokenizer_pool_.join();
  large_request_pool_.join();
  worker_pool_.join();
  std::deque<Item> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    left.swap(pending_);
  }
  for (Item& item : left) Finish(*item.job, absl::UnavailableError("the service is shutting down"));
}

absl::Status Batcher::Submit(std::shared_ptr<ScoreJob> job) {
  const int64_t n = static_cast<int64_t>(job->prompts.size());
  int64_t bytes = 0;
  for (const PromptInput& p : job->prompts) {
    if (p.text) bytes += static_cast<int64_t>(p.text->size());
    if (p.ids) bytes += static_cast<int64_t>(p.ids->size() * sizeof(int32_t));
  }
  auto refuse = [&](const char* bound, absl::Status status) {
    if (metrics_) {
      if (status.code() == absl::StatusCode::kResourceExhausted) metrics_->CountRejection(bound);
      metrics_->CountPrompts(status.code(), n);
    }
    return status;
  };
  if (bytes > options_.max_queued_bytes)
    return refuse("bytes", absl::InvalidArgumentError(absl::StrCat("the request holds ", bytes, " bytes of prompts, over the server's limit of ",
                                                   options_.max_queued_bytes, " queued bytes; split it")));
  int64_t before = admitted_prompts_.fetch_add(n);
  if (before + n > options_.max_queued_prompts) {
    admitted_prompts_.fetch_sub(n);
    return refuse("prompts", absl::ResourceExhaustedError(absl::StrCat("the service queue is full (", before, " prompts waiting, limit ",
                                                     options_.max_queued_prompts, "); retry with backoff")));
  }
  const int64_t bytes_before = admitted_bytes_.fetch_add(bytes);
  if (bytes_before + bytes > options_.max_queued_bytes) {
    admitted_bytes_.fetch_sub(bytes);
    admitted_prompts_.fetch_sub(n);
    return refuse("bytes", absl::ResourceExhaustedError(absl::StrCat("the service queue is full (", bytes_before,
                                                     " bytes of prompts waiting, limit ", options_.max_queued_bytes,
                                                     "); retry with backoff")));
  }
  job->admitted_bytes = bytes;
  boost::asio::thread_pool& lane = bytes > options_.large_request_bytes ? large_request_pool_ : tokenizer_pool_;
  boost::asio::post(lane, [this, job = std::move(job)] { Tokenize(job); });
  return absl::OkStatus();
}

void Batcher::Tokenize(const std::shared_ptr<ScoreJob>& job) {
  auto start = ScoreJob::Clock::now();
  const int64_t n = static_cast<int64_t>(job->prompts.size());
  job->prepared.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    auto prepared = engine_.Prepare(job->prompts[i], job->truncate_left);
    if (!prepared.ok()) {
      admitted_prompts_.fetch_sub(n);
      Finish(*job, absl::Status(prepared.status().code(), absl::StrCat("prompt ", i, ": ", prepared.status().message())));
      return;
    }
    job->prepared[i] = *std::move(prepared);
  }
  job->timing.tokenize_ms = MillisSince(start);
  if (metrics_) metrics_->tokenize_seconds.Observe(job->timing.tokenize_ms / 1e3);
  // Prompts scored before with the same model and options are answered from the cache; only the
  // others are queued, and only their tokens count against the third admission bound.
  job->results.resize(n);
  std::vector<int> misses;
  if (cache_.enabled()) job->cache_keys.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    if (cache_.enabled()) {
      job->cache_keys[i] = cache_.Key(job->prepared[i], job->features);
      if (std::optional<ScoredPrompt> hit = cache_.Find(job->cache_keys[i])) {
        job->results[i] = *std::move(hit);
        continue;
      }
    }
    misses.push_back(static_cast<int>(i));
  }
  const int64_t hits = n - static_cast<int64_t>(misses.size());
  if (metrics_ && cache_.enabled()) metrics_->CountCache(hits, static_cast<int64_t>(misses.size()));
  // Tokens are known only now: the third admission bound, on the work (not the memory) a job adds.
  int64_t tokens = 0;
  for (int i : misses) tokens += static_cast<int64_t>(job->prepared[i].ids.size());
  absl::Status refused;
  if (tokens > options_.max_queued_tokens) {
    refused = absl::InvalidArgumentError(absl::StrCat("the request's prompts hold ", tokens,
                                                      " tokens, over the server's limit of ", options_.max_queued_tokens,
                                                      " queued tokens; split it"));
  } else if (const int64_t before = admitted_tokens_.fetch_add(tokens); before + tokens > options_.max_queued_tokens) {
    admitted_tokens_.fetch_sub(tokens);
    refused = absl::ResourceExhaustedError(absl::StrCat("the service queue is full (", before,
                                                        " tokens waiting, limit ", options_.max_queued_tokens,
                                                        "); retry with backoff"));
  }
  if (!refused.ok()) {
    if (metrics_ && refused.code() == absl::StatusCode::kResourceExhausted) metrics_->CountRejection("tokens");
    admitted_prompts_.fetch_sub(n);
    Finish(*job, refused);
    return;
  }
  admitted_prompts_.fetch_sub(hits);
  if (misses.empty()) {
    Finish(*job, absl::OkStatus());
    return;
  }
  Enqueue(job, misses);
}

void Batcher::Enqueue(const std::shared_ptr<ScoreJob>& job, const std::vector<int>& indices) {
  job->remaining = static_cast<int>(indices.size());
  job->enqueued = ScoreJob::Clock::now();
  bool schedule = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    std::deque<Item> arriving;
    for (size_t k = 0; k < indices.size(); ++k) {
      const int i = indices[k];
      arriving.push_back({job, i, static_cast<int64_t>(job->prepared[i].ids.size()),
                          round_ + 1 + static_cast<int64_t>(k), arrivals_++});
    }
    std::deque<Item> merged;
    std::merge(std::make_move_iterator(pending_.begin()), std::make_move_iterator(pending_.end()),
               std::make_move_iterator(arriving.begin()), std::make_move_iterator(arriving.end()),
               std::back_inserter(merged), [](const Item& a, const Item& b) {
                 return a.round != b.round ? a.round < b.round : a.arrival < b.arrival;
               });
    pending_.swap(merged);
    if (!drain_scheduled_ && !stopping_) schedule = drain_scheduled_ = true;
  }
  if (schedule) boost::asio::post(worker_pool_, [this] { Drain(); });
}

void Batcher::Drain() {
  for (;;) {
    std::vector<Item> batch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        drain_scheduled_ = false;
        return;
      }
      batch = NextBatch();
      if (batch.empty()) {
        drain_scheduled_ = false;
        return;
      }
    }
    RunBatch(batch);
  }
}

std::vector<Batcher::Item> Batcher::NextBatch() {
  // Drop the prompts of jobs that ended or whose caller gave up.
  const auto now = ScoreJob::Clock::now();
  std::vector<std::shared_ptr<ScoreJob>> dropped;
  std::deque<Item> live;
  for (Item& item : pending_) {
    ScoreJob& job = *item.job;
    bool dead = job.finished.load() || now >= job.deadline || (job.is_cancelled && job.is_cancelled());
    if (dead) {
      Release(item);
      if (!job.finished.load()) dropped.push_back(item.job);
    } else {
      live.push_back(std::move(item));
    }
  }
  pending_.swap(live);
  for (const auto& job : dropped) {
    absl::Status why = now >= job->deadline ? absl::DeadlineExceededError("deadline passed before the prompts were scored")
                                            : absl::CancelledError("the caller cancelled the request");
    Finish(*job, why);
  }
  std::vector<int64_t> lengths;
  lengths.reserve(pending_.size());
  for (const Item& item : pending_) lengths.push_back(item.length);
  const std::vector<size_t> chosen = sparsegate::CutBatch(lengths, options_.token_budget, options_.max_batch_prompts);
  std::vector<Item> batch;
  if (!chosen.empty()) round_ = std::max(round_, pending_[chosen.front()].round);
  std::vector<bool> taken(pending_.size(), false);
  for (size_t i : chosen) {
    batch.push_back(pending_[i]);
    taken[i] = true;
  }
  std::deque<Item> rest;
  for (size_t i = 0; i < pending_.size(); ++i)
    if (!taken[i]) rest.push_back(std::move(pending_[i]));
  pending_.swap(rest);
  return batch;
}

void Batcher::RunBatch(std::vector<Item>& batch) {
  const auto start = ScoreJob::Clock::now();
  std::vector<const PreparedPrompt*> prompts;
  std::vector<const FeatureRequest*> requests;
  for (const Item& item : batch) {
    prompts.push_back(&item.job->prepared[item.index]);
    requests.push_back(&item.job->features);
  }
  std::vector<ScoredPrompt> results;
  try {
    results = engine_.Run(prompts, requests);
  } catch (const std::exception& e) {
    // libtorch reports errors as exceptions (c10::Error). One batch failing must not end the
    // process: its jobs fail, and the worker goes on with the next batch.
    const absl::Status failed = absl::InternalError(absl::StrCat("the forward pass failed: ", e.what()));
    for (const Item& item : batch) {
      Release(item);
      Finish(*item.job, failed);
    }
    return;
  }
  const double forward_ms = MillisSince(start);
  if (metrics_) {
    int64_t tokens = 0, longest = 0;
    for (const Item& item : batch) {
      tokens += item.length;
      longest = std::max(longest, item.length);
    }
    metrics_->CountBatch(static_cast<int64_t>(batch.size()), tokens, longest * static_cast<int64_t>(batch.size()),
                         forward_ms / 1e3);
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
  for (const Item& item : batch)
    if (--item.job->remaining == 0) Finish(*item.job, absl::OkStatus());
}

void Batcher::Release(const Item& item) {
  admitted_prompts_.fetch_sub(1);
  admitted_tokens_.fetch_sub(item.length);
}

void Batcher::Finish(ScoreJob& job, const absl::Status& status) {
  if (job.finished.exchange(true)) return;
  admitted_bytes_.fetch_sub(job.admitted_bytes);
  if (metrics_) {
    metrics_->CountPrompts(status.code(), static_cast<int64_t>(job.prompts.size()));
    if (status.ok()) metrics_->queue_seconds.Observe(job.timing.queue_ms / 1e3);
  }
  if (job.on_done) job.on_done(status, job);
}

}  // namespace sparsegate

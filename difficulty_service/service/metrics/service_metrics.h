// What one server process has done, as Prometheus metrics, and their text exposition (format
// 0.0.4, what /metrics serves).
//
// Counters and histograms are atomics: the batcher's worker and the gRPC threads record without
// waiting on a scrape or on each other. Labelled series (requests by method and code, prompts by
// code, rejections by bound) live in small maps under a mutex, touched once per call.
//
// Written here rather than taken from a client library: Debian 12 packages no C++ Prometheus client
// (prometheus-cpp is not in bookworm), and counters, histograms and the text format are all this
// service needs.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_METRICS_SERVICE_METRICS_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_METRICS_SERVICE_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace sparsegate {

// Cumulative buckets (le = upper bound), a sum and a count. Observe is lock-free.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);
  // Appends the _bucket, _sum and _count lines of `name` (with HELP and TYPE) to `out`.
  void Render(const std::string& name, const std::string& help, std::string* out) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<uint64_t>> buckets_;  // per bucket, not cumulative; +Inf is the last; they sum to the count
  std::atomic<double> sum_{0};
};

class ServiceMetrics {
 public:
  ServiceMetrics();

  // One finished RPC: its method ("sparsegate.v1.DifficultyService/Score", ...) and status code
  // (gRPC's codes are absl's), shown by name ("OK", "RESOURCE_EXHAUSTED").
  void CountRequest(const std::string& method, absl::StatusCode code);
  // Prompts of a finished job (or of a refused one) by the status they ended with.
  void CountPrompts(absl::StatusCode code, int64_t prompts);
  // A job refused by an admission bound: "prompts", "bytes" or "tokens".
  void CountRejection(const std::string& bound);
  // One forward pass: its prompts, their real tokens, and the padded tokens it computed.
  void CountBatch(int64_t prompts, int64_t tokens, int64_t padded_tokens, double forward_seconds);
  void CountCache(int64_t hits, int64_t misses);
  // What forward passes computed: tokens the layers ran on (a prefix shared within a batch counts
  // once, one from the prefix cache not at all), tokens taken from the prefix cache, and its blocks
  // stored and evicted.
  void CountForwardWork(int64_t computed_tokens, int64_t prefix_cache_hit_tokens, int64_t stored_blocks,
                        int64_t evicted_blocks);
  void SetModel(const std::string& model_dir, const std::string& digest, double load_seconds);
  // Read at every scrape: prompts admitted and not yet scored, and the cache's size.
  void SetQueueDepth(std::function<int64_t()> read) { std::lock_guard<std::mutex> l(mu_); queue_depth_ = std::move(read); }
  void SetCacheBytes(std::function<int64_t()> read) { std::lock_guard<std::mutex> l(mu_); cache_bytes_ = std::move(read); }
  struct PrefixCacheSize {
    int64_t blocks = 0;
    int64_t bytes = 0;
  };
  void SetPrefixCacheSize(std::function<PrefixCacheSize()> read) {
    std::lock_guard<std::mutex> l(mu_);
    prefix_cache_size_ = std::move(read);
  }

  Histogram tokenize_seconds;  // per job
  Histogram queue_seconds;     // per job: enqueue until its last batch started
  Histogram forward_seconds;   // per batch
  Histogram batch_prompts;     // per batch

  std::string Render() const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, absl::StatusCode>, uint64_t> requests_;  // (method, code)
  std::map<absl::StatusCode, uint64_t> prompts_;
  std::map<std::string, uint64_t> rejections_;                       // bound
  std::function<int64_t()> queue_depth_, cache_bytes_;
  std::function<PrefixCacheSize()> prefix_cache_size_;
  std::string model_dir_, digest_;
  double load_seconds_ = 0;
  std::atomic<uint64_t> batches_{0}, tokens_{0}, padded_tokens_{0};
  std::atomic<uint64_t> cache_hits_{0}, cache_misses_{0};
  std::atomic<uint64_t> computed_tokens_{0}, prefix_hit_tokens_{0}, prefix_stored_blocks_{0}, prefix_evicted_blocks_{0};
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_METRICS_SERVICE_METRICS_H_

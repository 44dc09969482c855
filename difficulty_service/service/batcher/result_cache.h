// Scored prompts kept for the next time the same prompt is asked for the same features: trainers
// score the same prompts every epoch.
//
// The key is the model's content digest, the prompt's token ids as they reach the model (after any
// truncation, with the original count) and every feature option (layers, poolings, hidden vector,
// excluded channels, detected-outlier exclusion), so a hit is what a forward pass would return
// now, bit for bit. Entries are evicted least recently used once the bytes they hold pass the
// bound. Thread-safe: tokenizer threads look up, the model worker inserts.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_RESULT_CACHE_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_RESULT_CACHE_H_

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "difficulty_service/core/engine/score_backend.h"

namespace sparsegate {

class ResultCache {
 public:
  // max_bytes 0: the cache holds nothing (every Find misses).
  ResultCache(std::string model_digest, int64_t max_bytes);

  std::string Key(const PreparedPrompt& prompt, const FeatureRequest& request) const;
  std::optional<ScoredPrompt> Find(const std::string& key);
  void Insert(const std::string& key, const ScoredPrompt& result);

  bool enabled() const { return max_bytes_ > 0; }
  int64_t bytes() const;

 private:
  struct Entry {
    std::string key;
    ScoredPrompt result;
    int64_t bytes;
  };
  void EvictLocked();

  const std::string digest_;
  const int64_t max_bytes_;
  mutable std::mutex mu_;
  std::list<Entry> entries_;  // most recently used first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
  int64_t bytes_ = 0;
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_RESULT_CACHE_H_

#include "difficulty_service/service/batcher/result_cache.h"

#include "absl/strings/str_cat.h"

namespace sparsegate {
namespace {

template <typename T>
void AppendBytes(const std::vector<T>& values, std::string* out) {
  absl::StrAppend(out, values.size(), ":");
  out->append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

int64_t EntryBytes(const std::string& key, const ScoredPrompt& result) {
  // The key is held twice (entry and index); the rest is the result and bookkeeping.
  int64_t bytes = 2 * static_cast<int64_t>(key.size()) + static_cast<int64_t>(sizeof(ScoredPrompt)) + 96;
  for (const FeatureSet& set : result.features)
    bytes += static_cast<int64_t>(sizeof(FeatureSet) + set.hidden.size() * sizeof(float));
  return bytes;
}

}  // namespace

ResultCache::ResultCache(std::string model_digest, int64_t max_bytes)
    : digest_(std::move(model_digest)), max_bytes_(max_bytes) {}

std::string ResultCache::Key(const PreparedPrompt& prompt, const FeatureRequest& request) const {
  std::string key = absl::StrCat(digest_, "|", prompt.truncated, ",", prompt.original_token_count, "|");
  AppendBytes(prompt.ids, &key);
  key += "|";
  AppendBytes(request.layers, &key);
  std::vector<int> poolings;
  for (Pooling p : request.poolings) poolings.push_back(static_cast<int>(p));
  AppendBytes(poolings, &key);
  AppendBytes(request.exclude_channels, &key);
  absl::StrAppend(&key, "|", request.return_hidden, request.exclude_detected_outliers);
  return key;
}

std::optional<ScoredPrompt> ResultCache::Find(const std::string& key) {
  if (!enabled()) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  entries_.splice(entries_.begin(), entries_, it->second);
  return it->second->result;
}

void ResultCache::Insert(const std::string& key, const ScoredPrompt& result) {
  const int64_t bytes = EntryBytes(key, result);
  if (!enabled() || bytes > max_bytes_) return;
  std::lock_guard<std::mutex> lock(mu_);
  if (index_.count(key)) return;  // two jobs scored it in one batch
  entries_.push_front({key, result, bytes});
  index_[key] = entries_.begin();
  bytes_ += bytes;
  EvictLocked();
}

void ResultCache::EvictLocked() {
  while (bytes_ > max_bytes_ && !entries_.empty()) {
    bytes_ -= entries_.back().bytes;
    index_.erase(entries_.back().key);
    entries_.pop_back();
  }
}

int64_t ResultCache::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

}  // namespace sparsegate

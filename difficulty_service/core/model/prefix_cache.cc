#include "difficulty_service/core/model/prefix_cache.h"

#include <ATen/ATen.h>

#include <algorithm>

namespace sparsegate {
namespace {

// SplitMix64's finaliser: every input bit moves every output bit.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

int64_t TensorBytes(const at::Tensor& t) { return t.defined() ? static_cast<int64_t>(t.nbytes()) : 0; }

}  // namespace

int64_t PrefixCache::Block::bytes() const {
  int64_t total = 0;
  for (const at::Tensor& t : keys) total += TensorBytes(t);
  for (const at::Tensor& t : values) total += TensorBytes(t);
  for (const auto& [index, t] : states) total += TensorBytes(t);
  return total;
}

PrefixCache::PrefixCache(PrefixCacheOptions options) : options_(options) {}

std::vector<uint64_t> PrefixCache::ChainHashes(const int64_t* ids, int64_t length) const {
  // 64 bits name a block: at a million blocks the chance that two chains collide is about 3e-8,
  // the same bet vLLM's prefix cache makes with its own block hashes.
  const int64_t block = options_.block_tokens;
  std::vector<uint64_t> chain;
  chain.reserve(static_cast<size_t>(length / block));
  uint64_t h = Mix(static_cast<uint64_t>(block));
  for (int64_t b = 0; (b + 1) * block <= length; ++b) {
    for (int64_t t = b * block; t < (b + 1) * block; ++t) h = Mix(h ^ static_cast<uint64_t>(ids[t]));
    chain.push_back(h);
  }
  return chain;
}

std::vector<std::shared_ptr<const PrefixCache::Block>> PrefixCache::Lookup(const std::vector<uint64_t>& chain,
                                                                          int64_t max_blocks, int deepest,
                                                                          const std::vector<int>& indices) {
  std::vector<std::shared_ptr<const Block>> found;
  std::lock_guard<std::mutex> lock(mutex_);
  ++stats_.lookups;
  for (size_t b = 0; b < chain.size() && static_cast<int64_t>(b) < max_blocks; ++b) {
    auto it = blocks_.find(chain[b]);
    if (it == blocks_.end()) break;
    const Block& block = *it->second.block;
    const bool enough = block.depth >= deepest && std::all_of(indices.begin(), indices.end(), [&](int index) {
                          return block.states.count(index) > 0;
                        });
    if (!enough) break;  // stored by a forward that stopped sooner or kept other states
    lru_.splice(lru_.begin(), lru_, it->second.recency);
    found.push_back(it->second.block);
  }
  stats_.hit_tokens += static_cast<int64_t>(found.size()) * options_.block_tokens;
  return found;
}

std::vector<std::vector<bool>> PrefixCache::Admit(const std::vector<std::vector<uint64_t>>& chains,
                                                  const std::vector<int64_t>& first) {
  std::unordered_map<uint64_t, int> in_this_forward;
  for (size_t p = 0; p < chains.size(); ++p) {
    for (size_t b = static_cast<size_t>(first[p]); b < chains[p].size(); ++b) ++in_this_forward[chains[p][b]];
  }
  std::vector<std::vector<bool>> store(chains.size());
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t p = 0; p < chains.size(); ++p) {
    for (size_t b = static_cast<size_t>(first[p]); b < chains[p].size(); ++b) {
      const uint64_t h = chains[p][b];
      store[p].push_back(seen_.count(h) > 0 || in_this_forward[h] > 1);
    }
  }
  for (const auto& [h, count] : in_this_forward) {
    if (auto it = seen_.find(h); it != seen_.end()) {
      seen_order_.splice(seen_order_.begin(), seen_order_, it->second);
    } else {
      seen_order_.push_front(h);
      seen_.emplace(h, seen_order_.begin());
    }
  }
  while (seen_order_.size() > options_.max_seen) {
    seen_.erase(seen_order_.back());
    seen_order_.pop_back();
  }
  return store;
}

void PrefixCache::Insert(uint64_t hash, std::shared_ptr<const Block> block) {
  const int64_t bytes = block->bytes();
  if (bytes > options_.max_bytes) return;
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = blocks_.find(hash); it != blocks_.end()) {
    stats_.bytes -= it->second.block->bytes();
    lru_.erase(it->second.recency);
    blocks_.erase(it);
    --stats_.blocks;
  }
  lru_.push_front(hash);
  blocks_.emplace(hash, Entry{std::move(block), lru_.begin()});
  stats_.bytes += bytes;
  ++stats_.blocks;
  ++stats_.stored_blocks;
  EvictLocked();
}

void PrefixCache::EvictLocked() {
  while (stats_.bytes > options_.max_bytes && !lru_.empty()) {
    auto it = blocks_.find(lru_.back());
    stats_.bytes -= it->second.block->bytes();
    blocks_.erase(it);
    lru_.pop_back();
    --stats_.blocks;
    ++stats_.evicted_blocks;
  }
}

PrefixCacheStats PrefixCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace sparsegate

// States of prompt prefixes kept across forward passes, so that a prompt that begins like one
// scored before (a system prompt, few-shot examples, the question under its hinted variants)
// computes only the tokens after that beginning, even when it comes alone in its batch.
//
// The unit is a block of `block_tokens` tokens at a block boundary of the prompt, as in vLLM's
// automatic prefix caching. A block is named by a chained hash of every token up to its end, and
// holds what a later prompt needs of those tokens: each layer's keys and values (after RoPE) and
// the hidden states at the indices its forward kept. A causal model's states at a position depend
// on the tokens up to it alone, so the blocks of one model are valid for any prompt that begins
// with the same tokens. One cache belongs to one loaded model (a reload builds a new engine and
// cache), which is why the model is not part of the key.
//
// Admission: a block is stored the second time its chain is seen (in an earlier forward, or twice
// in one), so a workload of prompts that share nothing fills nothing but a set of 64-bit hashes.
// Eviction: least recently used first, to stay under `max_bytes` of tensors. Thread-safe.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_PREFIX_CACHE_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_PREFIX_CACHE_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace sparsegate {

struct PrefixCacheOptions {
  // 16 tokens: vLLM's default block, and the service's --shared-prefix-min-tokens, below which a
  // prefix is not worth an attention call of its own.
  int64_t block_tokens = 16;
  int64_t max_bytes = 0;  // 0: no cache
  // Chain hashes remembered for admission; beyond this the oldest are forgotten (8 bytes each).
  size_t max_seen = 1 << 16;
};

struct PrefixCacheStats {
  int64_t lookups = 0;        // prompts looked up
  int64_t hit_tokens = 0;     // tokens whose states came from the cache
  int64_t stored_blocks = 0;  // blocks stored since the start
  int64_t evicted_blocks = 0;
  int64_t blocks = 0;  // held now
  int64_t bytes = 0;   // held now
};

class PrefixCache {
 public:
  // One block's states. keys/values[l - 1]: layer l's, [1, kv_heads, block_tokens, head_dim], for
  // the layers up to `depth`; states: index -> [block_tokens, hidden].
  struct Block {
    int depth = 0;
    std::vector<at::Tensor> keys, values;
    std::map<int, at::Tensor> states;
    int64_t bytes() const;
  };

  explicit PrefixCache(PrefixCacheOptions options);

  const PrefixCacheOptions& options() const { return options_; }

  // The chained hash of every block boundary of ids[0, length): entry b names tokens
  // [0, (b + 1) x block_tokens). Full blocks only.
  std::vector<uint64_t> ChainHashes(const int64_t* ids, int64_t length) const;

  // The prompt's leading blocks the cache holds with keys and values up to layer `deepest` and
  // states at every index of `indices`, at most `max_blocks` of them, stopping at the first that
  // is missing. Counts the lookup and the tokens it saves.
  std::vector<std::shared_ptr<const Block>> Lookup(const std::vector<uint64_t>& chain, int64_t max_blocks,
                                                   int deepest, const std::vector<int>& indices);

  // Marks the chains seen in one forward and returns, for each prompt, whether each of its blocks
  // (from `first[p]` on) should be stored: seen before, or more than once among `chains`.
  std::vector<std::vector<bool>> Admit(const std::vector<std::vector<uint64_t>>& chains,
                                       const std::vector<int64_t>& first);

  // Stores (or replaces) the block whose chain hash is `hash`, evicting the least recently used
  // blocks beyond max_bytes. A block larger than max_bytes is not stored.
  void Insert(uint64_t hash, std::shared_ptr<const Block> block);

  PrefixCacheStats stats() const;

 private:
  struct Entry {
    std::shared_ptr<const Block> block;
    std::list<uint64_t>::iterator recency;  // in lru_, most recent first
  };
  void EvictLocked();

  const PrefixCacheOptions options_;
  mutable std::mutex mutex_;
  std::unordered_map<uint64_t, Entry> blocks_;
  std::list<uint64_t> lru_;
  std::unordered_map<uint64_t, std::list<uint64_t>::iterator> seen_;  // chain -> place in seen_order_
  std::list<uint64_t> seen_order_;                                     // most recent first
  PrefixCacheStats stats_;
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_PREFIX_CACHE_H_

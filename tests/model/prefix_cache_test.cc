// The prefix cache's bookkeeping, with known answers: chain hashes name whole beginnings, a block
// is admitted the second time it is seen, look-ups stop at the first missing or too-shallow block,
// and the least recently used blocks go first beyond the byte bound.
#include "difficulty_service/core/model/prefix_cache.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <numeric>

namespace sparsegate {
namespace {

// A block of `depth` layers and a state at index `depth`, 4 floats per tensor: 16 bytes each.
std::shared_ptr<const PrefixCache::Block> MakeBlock(int depth) {
  auto block = std::make_shared<PrefixCache::Block>();
  block->depth = depth;
  for (int l = 0; l < depth; ++l) {
    block->keys.push_back(at::zeros({1, 1, 2, 2}));
    block->values.push_back(at::zeros({1, 1, 2, 2}));
  }
  block->states[depth] = at::zeros({2, 2});
  return block;
}

PrefixCacheOptions Options(int64_t max_bytes) {
  PrefixCacheOptions options;
  options.block_tokens = 4;
  options.max_bytes = max_bytes;
  return options;
}

TEST(PrefixCache, ChainHashesNameEveryTokenUpToTheBlocksEnd) {
  PrefixCache cache(Options(1 << 20));
  std::vector<int64_t> a(10), b(10);
  std::iota(a.begin(), a.end(), 1);
  std::iota(b.begin(), b.end(), 1);
  b[5] = 99;  // differs in the second block
  const std::vector<uint64_t> ha = cache.ChainHashes(a.data(), 10), hb = cache.ChainHashes(b.data(), 10);
  ASSERT_EQ(ha.size(), 2u);  // full blocks only: tokens 0-3 and 4-7
  EXPECT_EQ(ha[0], hb[0]);
  EXPECT_NE(ha[1], hb[1]);
  // The same four tokens after another beginning are another block.
  std::vector<int64_t> shifted = {7, 7, 7, 7, 5, 6, 7, 8};
  EXPECT_NE(cache.ChainHashes(shifted.data(), 8)[1], ha[1]);
}

TEST(PrefixCache, ABlockIsAdmittedTheSecondTimeItIsSeen) {
  PrefixCache cache(Options(1 << 20));
  const std::vector<std::vector<uint64_t>> once = {{1, 2}}, twice = {{1, 3}, {1, 4}};
  EXPECT_EQ(cache.Admit(once, {0}), (std::vector<std::vector<bool>>{{false, false}}));
  // Seen before (1, 2 now), or twice in one forward (3 and 4 are not; 1 is both).
  EXPECT_EQ(cache.Admit(twice, {0, 0}), (std::vector<std::vector<bool>>{{true, false}, {true, false}}));
  EXPECT_EQ(cache.Admit({{1, 3}}, {1}), (std::vector<std::vector<bool>>{{true}}));  // from block 1 on
}

TEST(PrefixCache, LookupsStopAtTheFirstMissingOrTooShallowBlock) {
  PrefixCache cache(Options(1 << 20));
  cache.Insert(11, MakeBlock(2));
  cache.Insert(12, MakeBlock(1));
  cache.Insert(14, MakeBlock(2));
  EXPECT_EQ(cache.Lookup({11, 12, 14}, 3, 1, {1}).size(), 0u);  // block 11 keeps index 2, not 1
  EXPECT_EQ(cache.Lookup({11, 12, 14}, 3, 2, {2}).size(), 1u);  // block 12 is too shallow
  EXPECT_EQ(cache.Lookup({11, 13, 14}, 3, 2, {2}).size(), 1u);  // 13 is missing: 14 is not reached
  EXPECT_EQ(cache.Lookup({11, 14}, 1, 2, {2}).size(), 1u);      // at most max_blocks
  EXPECT_EQ(cache.Lookup({11, 14}, 2, 2, {2}).size(), 2u);
  const PrefixCacheStats stats = cache.stats();
  EXPECT_EQ(stats.lookups, 5);
  EXPECT_EQ(stats.hit_tokens, (1 + 1 + 1 + 2) * 4);
}

TEST(PrefixCache, TheLeastRecentlyUsedGoFirstBeyondTheBound) {
  const int64_t block_bytes = MakeBlock(1)->bytes();
  ASSERT_EQ(block_bytes, 3 * 16);
  PrefixCache cache(Options(2 * block_bytes));
  cache.Insert(1, MakeBlock(1));
  cache.Insert(2, MakeBlock(1));
  ASSERT_EQ(cache.Lookup({1}, 1, 1, {1}).size(), 1u);  // 1 is now the most recent
  cache.Insert(3, MakeBlock(1));                        // evicts 2
  EXPECT_EQ(cache.Lookup({2}, 1, 1, {1}).size(), 0u);
  EXPECT_EQ(cache.Lookup({1}, 1, 1, {1}).size(), 1u);
  EXPECT_EQ(cache.Lookup({3}, 1, 1, {1}).size(), 1u);
  PrefixCacheStats stats = cache.stats();
  EXPECT_EQ(stats.blocks, 2);
  EXPECT_EQ(stats.bytes, 2 * block_bytes);
  EXPECT_EQ(stats.evicted_blocks, 1);
  cache.Insert(3, MakeBlock(1));  // a replacement is not a second block
  EXPECT_EQ(cache.stats().blocks, 2);
  cache.Insert(4, MakeBlock(4));  // larger than the whole bound: not stored, nothing evicted
  stats = cache.stats();
  EXPECT_EQ(stats.blocks, 2);
  EXPECT_EQ(stats.evicted_blocks, 1);
}

}  // namespace
}  // namespace sparsegate

// PlanSharedPrefixes on prompts whose answer is known: which segments run, where each token's
// state comes from, and when a prefix is too short or a group too costly to grow.
#include "difficulty_service/core/model/shared_prefixes.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace sparsegate {
namespace {

struct Batch {
  std::vector<int64_t> ids, lengths;
  void Add(const std::vector<int64_t>& prompt) {
    ids.insert(ids.end(), prompt.begin(), prompt.end());
    lengths.push_back(static_cast<int64_t>(prompt.size()));
  }
  PrefixPlan Plan(int64_t min_shared) const { return PlanSharedPrefixes(ids.data(), lengths, min_shared); }
};

std::vector<int64_t> Range(int64_t from, int64_t to) {
  std::vector<int64_t> v(static_cast<size_t>(to - from));
  std::iota(v.begin(), v.end(), from);
  return v;
}

std::vector<int64_t> Cat(std::vector<int64_t> a, const std::vector<int64_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Every token's row holds the same token: the plan reads back the input.
void ExpectRowsHoldTheirTokens(const Batch& batch, const PrefixPlan& plan) {
  std::vector<int64_t> computed;
  for (const PrefixPlan::Segment& s : plan.segments)
    computed.insert(computed.end(), batch.ids.begin() + s.source_start, batch.ids.begin() + s.source_start + s.length);
  ASSERT_EQ(static_cast<int64_t>(computed.size()), plan.computed_tokens);
  ASSERT_EQ(plan.rows.size(), batch.ids.size());
  for (size_t i = 0; i < batch.ids.size(); ++i) EXPECT_EQ(computed[plan.rows[i]], batch.ids[i]) << "token " << i;
}

TEST(SharedPrefixes, PromptsBehindOnePrefixComputeItOnce) {
  Batch batch;
  const std::vector<int64_t> system = Range(1000, 1020);  // 20 tokens
  batch.Add(Cat(system, {1, 2, 3}));
  batch.Add(Range(500, 510));  // unrelated
  batch.Add(Cat(system, {4, 5}));
  const PrefixPlan plan = batch.Plan(16);
  ASSERT_EQ(plan.segments.size(), 4u);
  EXPECT_EQ(plan.computed_tokens, 20 + 3 + 2 + 10);
  EXPECT_TRUE(plan.shares());
  // In input order: the prefix (where the first prompt was), its two suffixes at position 20
  // attending to it, then the unrelated prompt.
  const PrefixPlan::Segment& prefix = plan.segments[0];
  EXPECT_EQ(prefix.length, 20);
  EXPECT_EQ(prefix.parent, -1);
  for (int child : {1, 2}) {
    EXPECT_EQ(plan.segments[child].parent, 0);
    EXPECT_EQ(plan.segments[child].position, 20);
  }
  EXPECT_EQ(plan.segments[3].parent, -1);
  EXPECT_EQ(plan.segments[3].length, 10);
  // Both prompts read their first 20 states from the same rows.
  EXPECT_EQ(plan.rows[0], plan.rows[23 + 10]);
  EXPECT_EQ(plan.rows[19], plan.rows[23 + 10 + 19]);
  ExpectRowsHoldTheirTokens(batch, plan);
}

TEST(SharedPrefixes, ShortPrefixesAndSharingOffComputeEverything) {
  Batch batch;
  batch.Add(Cat(Range(0, 15), {1}));
  batch.Add(Cat(Range(0, 15), {2}));
  const PrefixPlan below = batch.Plan(16);  // 15 shared tokens: under the minimum
  EXPECT_FALSE(below.shares());
  EXPECT_EQ(below.computed_tokens, 32);
  EXPECT_TRUE(batch.Plan(15).shares());
  const PrefixPlan off = batch.Plan(0);
  EXPECT_FALSE(off.shares());
  ASSERT_EQ(off.segments.size(), 2u);
  for (const PrefixPlan* plan : {&below, &off}) {  // the input itself, in order
    EXPECT_EQ(plan->segments[1].source_start, 16);
    for (size_t i = 0; i < plan->rows.size(); ++i) EXPECT_EQ(plan->rows[i], static_cast<int64_t>(i));
  }
  ExpectRowsHoldTheirTokens(batch, off);
}

TEST(SharedPrefixes, RepeatsAndPromptsThatArePrefixesOfOthersComputeNothingOfTheirOwn) {
  Batch batch;
  batch.Add(Range(0, 30));
  batch.Add(Range(0, 30));
  batch.Add(Range(0, 40));
  const PrefixPlan plan = batch.Plan(16);
  EXPECT_EQ(plan.computed_tokens, 40);  // the 30-token prefix, then the long prompt's 10 more
  ASSERT_EQ(plan.segments.size(), 2u);
  ExpectRowsHoldTheirTokens(batch, plan);
}

TEST(SharedPrefixes, AGroupStopsGrowingWhenItWouldSaveLess) {
  // Two prompts share 100 tokens; a third shares only their first 20. Adding it would save
  // 2 x 20 = 40 tokens instead of 100, so it runs alone.
  Batch batch;
  batch.Add(Cat(Range(0, 100), {1}));
  batch.Add(Cat(Range(0, 100), {2}));
  batch.Add(Cat(Range(0, 20), Range(5000, 5050)));
  const PrefixPlan plan = batch.Plan(16);
  EXPECT_EQ(plan.computed_tokens, 100 + 1 + 1 + 70);
  ExpectRowsHoldTheirTokens(batch, plan);
}

}  // namespace
}  // namespace sparsegate

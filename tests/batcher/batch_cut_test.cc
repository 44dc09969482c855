// The batching rule (batch_cut.h) on plain lengths.
#include "difficulty_service/service/batcher/batch_cut.h"

#include <gtest/gtest.h>

#include <vector>

namespace sparsegate {
namespace {

using Indices = std::vector<size_t>;

TEST(CutBatch, NoPromptsNoBatch) { EXPECT_TRUE(CutBatch({}, 100, 8).empty()); }

TEST(CutBatch, TheOldestPromptAlwaysRunsEvenOverBudget) {
  EXPECT_EQ(CutBatch({500, 10, 10}, 100, 8), (Indices{0}));
}

TEST(CutBatch, FillsWithTheClosestLengthsFirst) {
  // Anchor 50: 52 and 47 are closest, then 60; 200 would make the padded size 4 x 200.
  EXPECT_EQ(CutBatch({50, 200, 60, 52, 47}, 240, 8), (Indices{0, 3, 4, 2}));
}

TEST(CutBatch, PaddedSizeStaysWithinTheBudget) {
  const std::vector<int64_t> lengths = {30, 30, 30, 30, 30};
  // 3 x 30 = 90 fits in 100, 4 x 30 does not.
  EXPECT_EQ(CutBatch(lengths, 100, 8).size(), 3u);
}

TEST(CutBatch, CountStaysWithinMaxPrompts) {
  EXPECT_EQ(CutBatch({1, 1, 1, 1, 1, 1}, 1000, 4), (Indices{0, 1, 2, 3}));
}

TEST(CutBatch, TiesGoToTheEarlierArrival) {
  EXPECT_EQ(CutBatch({10, 12, 8, 12}, 24, 2), (Indices{0, 1}));
}

TEST(CutBatch, SkipsAPromptThatDoesNotFitAndTakesLaterOnesThatDo) {
  // 16 is closer to the anchor 10 than 3 is, but would pad 2 x 16 = 32 > 30; 3 fits (2 x 10).
  EXPECT_EQ(CutBatch({10, 16, 3}, 30, 8), (Indices{0, 2}));
}

TEST(CutBatch, APromptTakenBringsTheRestOfItsGroup) {
  // Prompts 0-2 and 3-5 are two groups (a prompt and two variants); 6 and 7 stand alone. Once
  // prompt 3 is taken for its length, its variant 4 follows it before 6, which is closer in length.
  const std::vector<int64_t> lengths = {10, 20, 20, 12, 22, 22, 16, 16};
  const std::vector<int64_t> shared = {10, 10, 10, 0, 0, 0, 0, 0};
  EXPECT_EQ(CutBatch(lengths, 1000, 5, shared, {0, 0, 0, 3, 3, 3, 6, 7}), (std::vector<size_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(CutBatch(lengths, 1000, 5, shared), (std::vector<size_t>{0, 1, 2, 3, 6}));  // without groups
}

TEST(CutBatch, PromptsSharingMoreOfThePrefixComeBeforeCloserLengths) {
  // Prompt 0 (10 tokens) shares 10 tokens with prompts 3 and 4 (20 each), none with 1 and 2 (10
  // each): the sharers go first, the longer share first, while the budget allows.
  const std::vector<int64_t> lengths = {10, 10, 10, 20, 20};
  EXPECT_EQ(CutBatch(lengths, 60, 3, {10, 0, 0, 8, 10}), (std::vector<size_t>{0, 4, 3}));
  EXPECT_EQ(CutBatch(lengths, 60, 3), (std::vector<size_t>{0, 1, 2}));  // by length alone
}

}  // namespace
}  // namespace sparsegate

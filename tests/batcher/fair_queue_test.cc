// The fair queue (fair_queue.h) and the admission bounds (admission.h), without threads or a model:
// jobs hold prepared token ids of known lengths.
#include "difficulty_service/service/batcher/fair_queue.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "difficulty_service/service/batcher/admission.h"

namespace sparsegate {
namespace {

std::shared_ptr<ScoreJob> JobOfLengths(const std::vector<int>& lengths) {
  auto job = std::make_shared<ScoreJob>();
  for (int n : lengths) job->prepared.push_back({std::vector<int32_t>(n, 7), false, n});
  return job;
}

std::vector<int> AllIndices(const ScoreJob& job) {
  std::vector<int> indices;
  for (size_t i = 0; i < job.prepared.size(); ++i) indices.push_back(static_cast<int>(i));
  return indices;
}

// (job tag, prompt index) of each prompt in a batch.
std::vector<std::pair<char, int>> Served(const std::vector<QueuedPrompt>& batch,
                                         const std::vector<std::pair<char, const ScoreJob*>>& tags) {
  std::vector<std::pair<char, int>> served;
  for (const QueuedPrompt& p : batch) {
    for (const auto& [tag, job] : tags)
      if (job == p.job.get()) served.emplace_back(tag, p.index);
  }
  return served;
}

TEST(FairQueue, AOnePromptRequestOvertakesTheTailOfALongOne) {
  FairQueue queue(/*token_budget=*/10, /*max_batch_prompts=*/1);  // one prompt per batch
  auto long_job = JobOfLengths({5, 5, 5, 5});
  auto short_job = JobOfLengths({5});
  queue.Append(long_job, AllIndices(*long_job));
  queue.Append(short_job, AllIndices(*short_job));
  const std::vector<std::pair<char, const ScoreJob*>> tags = {{'L', long_job.get()}, {'S', short_job.get()}};
  std::vector<std::pair<char, int>> order;
  const auto now = ScoreJob::Clock::now();
  while (queue.size() > 0) {
    for (const auto& served : Served(queue.NextBatch(now).batch, tags)) order.push_back(served);
  }
  // The short job's prompt is due in round 1 with the long job's first, after it by arrival.
  const std::vector<std::pair<char, int>> expected = {{'L', 0}, {'S', 0}, {'L', 1}, {'L', 2}, {'L', 3}};
  EXPECT_EQ(order, expected);
}

TEST(FairQueue, ABatchFillsWithLengthsCloseToItsFirstPromptWithinTheBudget) {
  FairQueue queue(/*token_budget=*/30, /*max_batch_prompts=*/8);
  auto job = JobOfLengths({10, 25, 9, 11});
  queue.Append(job, AllIndices(*job));
  FairQueue::Cut cut = queue.NextBatch(ScoreJob::Clock::now());
  std::vector<int> indices;
  for (const QueuedPrompt& p : cut.batch) indices.push_back(p.index);
  EXPECT_EQ(indices, (std::vector<int>{0, 2}));  // 10 then 9 (padded 2 x 10); 11 would make 3 x 11 > 30
  EXPECT_EQ(queue.size(), 2u);
}

TEST(FairQueue, PromptsOfEndedCancelledOrLateJobsLeaveBeforeAnyBatch) {
  FairQueue queue(100, 8);
  auto live = JobOfLengths({4});
  auto cancelled = JobOfLengths({4, 4});
  cancelled->is_cancelled = [] { return true; };
  auto late = JobOfLengths({4});
  late->deadline = ScoreJob::Clock::now();
  auto finished = JobOfLengths({4});
  finished->finished = true;
  for (const auto& job : {live, cancelled, late, finished}) queue.Append(job, AllIndices(*job));
  FairQueue::Cut cut = queue.NextBatch(ScoreJob::Clock::now() + std::chrono::seconds(1));
  ASSERT_EQ(cut.batch.size(), 1u);
  EXPECT_EQ(cut.batch[0].job, live);
  EXPECT_EQ(cut.expired.size(), 4u);
  EXPECT_EQ(queue.size(), 0u);
  EXPECT_TRUE(queue.NextBatch(ScoreJob::Clock::now()).batch.empty());
}

TEST(AdmissionBounds, RefusesPastEachBoundAndCountsNothingWhenItDoes) {
  AdmissionBounds bounds({/*max_prompts=*/4, /*max_bytes=*/100, /*max_tokens=*/50});
  const char* bound = "";
  ASSERT_TRUE(bounds.AdmitJob(3, 60, &bound).ok());
  absl::Status full = bounds.AdmitJob(2, 10, &bound);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_STREQ(bound, "prompts");
  full = bounds.AdmitJob(1, 50, &bound);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_STREQ(bound, "bytes");
  EXPECT_EQ(bounds.prompts(), 3);  // the refusals counted nothing
  absl::Status alone = bounds.AdmitJob(1, 101, &bound);
  EXPECT_EQ(alone.code(), absl::StatusCode::kInvalidArgument);  // over the bound on its own: split it
  EXPECT_NE(alone.message().find("split it"), std::string::npos) << alone;
  ASSERT_TRUE(bounds.AdmitTokens(40, &bound).ok());
  EXPECT_EQ(bounds.AdmitTokens(20, &bound).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_STREQ(bound, "tokens");
  bounds.ReleaseTokens(40);
  EXPECT_TRUE(bounds.AdmitTokens(50, &bound).ok());
  bounds.ReleasePrompts(3);
  bounds.ReleaseBytes(60);
  EXPECT_TRUE(bounds.AdmitJob(4, 100, &bound).ok());
}

}  // namespace
}  // namespace sparsegate

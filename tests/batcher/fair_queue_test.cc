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

TEST(FairQueue, ABatchTakesThePromptsThatShareItsFirstPromptsPrefix) {
  // A prompt and two hinted variants of it (sent after another client's two prompts of its own
  // length): with sharing, the variants join the batch, and the shared prefix runs once.
  auto job_of = [](const std::vector<std::vector<int32_t>>& prompts) {
    auto job = std::make_shared<ScoreJob>();
    for (const auto& ids : prompts) job->prepared.push_back({ids, false, static_cast<int64_t>(ids.size())});
    return job;
  };
  std::vector<int32_t> question(10);
  for (int i = 0; i < 10; ++i) question[i] = i + 1;
  auto with_hint = [&](int32_t token) {
    std::vector<int32_t> ids = question;
    ids.insert(ids.end(), 10, token);
    return ids;
  };
  for (const int64_t min_shared : {int64_t{0}, int64_t{4}}) {
    FairQueue queue(/*token_budget=*/60, /*max_batch_prompts=*/3, min_shared);
    auto first = job_of({question});
    auto other = job_of({std::vector<int32_t>(10, 50), std::vector<int32_t>(10, 60)});
    auto variants = job_of({with_hint(70), with_hint(80)});
    queue.Append(first, AllIndices(*first));
    queue.Append(other, AllIndices(*other));
    queue.Append(variants, AllIndices(*variants));
    const std::vector<std::pair<char, const ScoreJob*>> tags = {
        {'Q', first.get()}, {'O', other.get()}, {'V', variants.get()}};
    const auto served = Served(queue.NextBatch(ScoreJob::Clock::now()).batch, tags);
    const std::vector<std::pair<char, int>> expected =
        min_shared > 0 ? std::vector<std::pair<char, int>>{{'Q', 0}, {'V', 0}, {'V', 1}}
                       : std::vector<std::pair<char, int>>{{'Q', 0}, {'O', 0}, {'O', 1}};
    EXPECT_EQ(served, expected) << "shared_prefix_min_tokens " << min_shared;
  }
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

#include "difficulty_service/service/batcher/fair_queue.h"

#include <algorithm>
#include <iterator>

#include "difficulty_service/service/batcher/batch_cut.h"

namespace sparsegate {

void FairQueue::Append(const std::shared_ptr<ScoreJob>& job, const std::vector<int>& indices) {
  std::deque<QueuedPrompt> arriving;
  for (size_t k = 0; k < indices.size(); ++k) {
    const int i = indices[k];
    const int64_t arrival = arrivals_++;
    int64_t group = arrival;
    if (shared_prefix_min_tokens_ > 0 && k > 0) {  // the previous prompt's group if they share a prefix
      const std::vector<int32_t>& ids = job->prepared[i].ids;
      const std::vector<int32_t>& previous = job->prepared[indices[k - 1]].ids;
      const int64_t common = std::mismatch(ids.begin(), ids.end(), previous.begin(), previous.end()).first - ids.begin();
      if (common >= shared_prefix_min_tokens_) group = arriving.back().group;
    }
    arriving.push_back({job, i, static_cast<int64_t>(job->prepared[i].ids.size()),
                        round_ + 1 + static_cast<int64_t>(k), arrival, group});
  }
  std::deque<QueuedPrompt> merged;
  std::merge(std::make_move_iterator(waiting_.begin()), std::make_move_iterator(waiting_.end()),
             std::make_move_iterator(arriving.begin()), std::make_move_iterator(arriving.end()),
             std::back_inserter(merged), [](const QueuedPrompt& a, const QueuedPrompt& b) {
               return a.round != b.round ? a.round < b.round : a.arrival < b.arrival;
             });
  waiting_.swap(merged);
}

FairQueue::Cut FairQueue::NextBatch(ScoreJob::Clock::time_point now) {
  Cut cut;
  std::deque<QueuedPrompt> live;
  for (QueuedPrompt& prompt : waiting_) {
    const ScoreJob& job = *prompt.job;
    const bool dead = job.finished.load() || now >= job.deadline || (job.is_cancelled && job.is_cancelled());
    if (dead) {
      cut.expired.push_back(std::move(prompt));
    } else {
      live.push_back(std::move(prompt));
    }
  }
  waiting_.swap(live);

  std::vector<int64_t> lengths;
  lengths.reserve(waiting_.size());
  for (const QueuedPrompt& prompt : waiting_) lengths.push_back(prompt.length);
  std::vector<int64_t> shared;
  if (shared_prefix_min_tokens_ > 0 && !waiting_.empty()) {
    const std::vector<int32_t>& first = waiting_.front().job->prepared[waiting_.front().index].ids;
    for (const QueuedPrompt& prompt : waiting_) {
      const std::vector<int32_t>& ids = prompt.job->prepared[prompt.index].ids;
      const int64_t common = std::mismatch(first.begin(), first.end(), ids.begin(), ids.end()).first - first.begin();
      shared.push_back(common >= shared_prefix_min_tokens_ ? common : 0);
    }
  }
  std::vector<int64_t> groups;
  if (shared_prefix_min_tokens_ > 0)
    for (const QueuedPrompt& prompt : waiting_) groups.push_back(prompt.group);
  const std::vector<size_t> chosen = CutBatch(lengths, token_budget_, max_batch_prompts_, shared, groups);
  if (chosen.empty()) return cut;
  round_ = std::max(round_, waiting_[chosen.front()].round);
  std::vector<bool> taken(waiting_.size(), false);
  for (size_t i : chosen) {
    cut.batch.push_back(std::move(waiting_[i]));
    taken[i] = true;
  }
  std::deque<QueuedPrompt> rest;
  for (size_t i = 0; i < waiting_.size(); ++i)
    if (!taken[i]) rest.push_back(std::move(waiting_[i]));
  waiting_.swap(rest);
  return cut;
}

std::deque<QueuedPrompt> FairQueue::TakeAll() {
  std::deque<QueuedPrompt> all;
  all.swap(waiting_);
  return all;
}

}  // namespace sparsegate

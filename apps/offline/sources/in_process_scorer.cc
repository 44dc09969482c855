#include "apps/offline/sources/in_process_scorer.h"

#include <condition_variable>
#include <mutex>

#include <spdlog/spdlog.h>

#include "absl/strings/strip.h"

namespace sparsegate::offline {
namespace {

// Counts jobs down to zero; the calling thread waits for its prompts.
class Countdown {
 public:
  void Add(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    left_ += n;
  }
  void Done() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--left_ == 0) cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return left_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int left_ = 0;
};

}  // namespace

absl::StatusOr<std::unique_ptr<InProcessScorer>> InProcessScorer::Create(const ScoringEngine& engine,
                                                                         FeatureRequest request, bool truncate_left,
                                                                         int64_t token_budget) {
  BatcherOptions options;
  options.token_budget = token_budget;
  options.max_queued_prompts = kMaxInFlight;
  auto batcher = Batcher::Start(engine, options);
  if (!batcher.ok()) return batcher.status();
  return std::unique_ptr<InProcessScorer>(new InProcessScorer(std::move(request), truncate_left, *std::move(batcher)));
}

InProcessScorer::InProcessScorer(FeatureRequest request, bool truncate_left, std::unique_ptr<Batcher> batcher)
    : request_(std::move(request)), truncate_left_(truncate_left), batcher_(std::move(batcher)) {}

std::vector<absl::StatusOr<ScoredPrompt>> InProcessScorer::Score(std::vector<PromptInput> inputs) {
  std::vector<absl::StatusOr<ScoredPrompt>> results(inputs.size(), absl::InternalError("not scored"));
  for (size_t first = 0; first < inputs.size(); first += kMaxInFlight) {
    const size_t last = std::min(inputs.size(), first + kMaxInFlight);
    Countdown pending;
    // One job per prompt, so that a bad prompt fails alone.
    for (size_t i = first; i < last; ++i) {
      auto job = std::make_shared<ScoreJob>();
      job->prompts = {std::move(inputs[i])};
      job->features = request_;
      job->truncate_left = truncate_left_;
      absl::StatusOr<ScoredPrompt>* target = &results[i];
      job->on_done = [target, &pending](const absl::Status& status, ScoreJob& done) {
        if (status.ok()) {
          *target = std::move(done.results.front());
        } else {
          // "prompt 0: " adds nothing when a job holds one prompt.
          absl::string_view message = status.message();
          absl::ConsumePrefix(&message, "prompt 0: ");
          *target = absl::Status(status.code(), message);
        }
        pending.Done();
      };
      pending.Add(1);
      if (absl::Status admitted = batcher_->Submit(job); !admitted.ok()) {  // cannot happen: within the bound
        *target = admitted;
        pending.Done();
      }
    }
    pending.Wait();
  }
  return results;
}

}  // namespace sparsegate::offline

// The three bounds on admitted, unanswered work: prompts, bytes of prompt text and ids (memory),
// and tokens (forward work). Counted with atomics, so admitting never waits for a lock.
//
// A job is admitted on its prompts and bytes when it arrives (AdmitJob) and on its tokens once it
// is tokenized (AdmitTokens). A refusal is RESOURCE_EXHAUSTED while the bound is full (retry with
// backoff), or INVALID_ARGUMENT when the job alone exceeds it (split it); `bound` then names the
// bound ("prompts", "bytes" or "tokens") for the metrics. A refused admission counts nothing.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_ADMISSION_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_ADMISSION_H_

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"

namespace sparsegate {

struct AdmissionLimits {
  int64_t max_prompts = 0;
  int64_t max_bytes = 0;
  int64_t max_tokens = 0;
};

class AdmissionBounds {
 public:
  explicit AdmissionBounds(AdmissionLimits limits) : limits_(limits) {}

  absl::Status AdmitJob(int64_t prompts, int64_t bytes, const char** bound);
  absl::Status AdmitTokens(int64_t tokens, const char** bound);

  void ReleasePrompts(int64_t n) { prompts_.fetch_sub(n); }
  void ReleaseBytes(int64_t bytes) { bytes_.fetch_sub(bytes); }
  void ReleaseTokens(int64_t tokens) { tokens_.fetch_sub(tokens); }

  // Prompts admitted and not yet released.
  int64_t prompts() const { return prompts_.load(); }

 private:
  const AdmissionLimits limits_;
  std::atomic<int64_t> prompts_{0};
  std::atomic<int64_t> bytes_{0};
  std::atomic<int64_t> tokens_{0};
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_ADMISSION_H_

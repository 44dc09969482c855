#include "difficulty_service/service/batcher/admission.h"


#include "absl/strings/str_cat.h"

namespace sparsegate {
namespace {

// A request that alone holds more than a bound allows: no wait would admit it.
absl::Status OverTheBoundAlone(int64_t amount, int64_t limit, const char* unit) {
  return absl::InvalidArgumentError(absl::StrCat("the request holds ", amount, " ", unit,
                                                 ", over the server's limit of ", limit, " queued ", unit,
                                                 "; split it"));
}

// Counts `amount` against `count` unless that passes `limit`; then counts nothing.
absl::Status Take(std::atomic<int64_t>& count, int64_t amount, int64_t limit, const char* unit) {
  const int64_t before = count.fetch_add(amount);
  if (before + amount <= limit) return absl::OkStatus();
  count.fetch_sub(amount);
  return absl::ResourceExhaustedError(absl::StrCat("the service queue is full (", before, " ", unit,
                                                   " waiting, limit ", limit, "); retry with backoff"));
}

}  // namespace

absl::Status AdmissionBounds::AdmitJob(int64_t prompts, int64_t bytes, const char** bound) {
  if (bytes > limits_.max_bytes) {
    *bound = "bytes";
    return OverTheBoundAlone(bytes, limits_.max_bytes, "bytes of prompts");
  }
  if (absl::Status s = Take(prompts_, prompts, limits_.max_prompts, "prompts"); !s.ok()) {
    *bound = "prompts";
    return s;
  }
  if (absl::Status s = Take(bytes_, bytes, limits_.max_bytes, "bytes of prompts"); !s.ok()) {
    prompts_.fetch_sub(prompts);
    *bound = "bytes";
    return s;
  }
  return absl::OkStatus();
}

absl::Status AdmissionBounds::AdmitTokens(int64_t tokens, const char** bound) {
  *bound = "tokens";
  if (tokens > limits_.max_tokens) return OverTheBoundAlone(tokens, limits_.max_tokens, "tokens");
  return Take(tokens_, tokens, limits_.max_tokens, "tokens");
}

}  // namespace sparsegate

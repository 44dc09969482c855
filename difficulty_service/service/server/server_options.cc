#include "difficulty_service/service/server/server_options.h"

#include <cmath>
#include <cstdlib>
#include <limits>

#include "absl/strings/str_cat.h"

namespace sparsegate {
namespace {

constexpr double kInt32Max = std::numeric_limits<int32_t>::max();
constexpr double kTebibyte = static_cast<double>(int64_t{1} << 40);

std::string Number(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e18) return absl::StrCat(static_cast<int64_t>(value));
  return absl::StrCat(value);
}

}  // namespace

std::string OptionBound::Describe() const {
  return absl::StrCat(integer ? "an integer" : "a number", " in [", Number(min), ", ", Number(max), "]");
}

const std::vector<BoundedOption>& ServerOptionBounds() {
  // Upper bounds are far past any sensible setting; they exist so that a typo cannot size an
  // allocation or wrap an int.
  static const std::vector<BoundedOption> bounds = {
      {{"--max-prompt-tokens", 0, 1 << 24}, [](const ServerOptions& o) { return double(o.engine.max_prompt_tokens); }},
      {{"--max-prompt-bytes", 0, kInt32Max}, [](const ServerOptions& o) { return double(o.engine.max_prompt_bytes); }},
      {{"--shared-prefix-min-tokens", 0, 1 << 24}, [](const ServerOptions& o) { return double(o.engine.shared_prefix_min_tokens); }},
      {{"--prefix-cache-bytes", 0, kTebibyte}, [](const ServerOptions& o) { return double(o.engine.prefix_cache_bytes); }},
      {{"--max-prompts-per-request", 1, 1 << 20}, [](const ServerOptions& o) { return double(o.max_prompts_per_request); }},
      {{"--max-queued-prompts", 1, 1 << 30}, [](const ServerOptions& o) { return double(o.batcher.max_queued_prompts); }},
      {{"--max-queued-bytes", 1, kTebibyte}, [](const ServerOptions& o) { return double(o.batcher.max_queued_bytes); }},
      {{"--max-queued-tokens", 1, 1 << 30}, [](const ServerOptions& o) { return double(o.batcher.max_queued_tokens); }},
      {{"--token-budget", 1, 1 << 30}, [](const ServerOptions& o) { return double(o.batcher.token_budget); }},
      {{"--max-batch-prompts", 1, 1 << 16}, [](const ServerOptions& o) { return double(o.batcher.max_batch_prompts); }},
      {{"--tokenizer-threads", 1, 256}, [](const ServerOptions& o) { return double(o.batcher.tokenizer_threads); }},
      {{"--large-request-bytes", 0, kTebibyte}, [](const ServerOptions& o) { return double(o.batcher.large_request_bytes); }},
      {{"--cache-bytes", 0, kTebibyte}, [](const ServerOptions& o) { return double(o.batcher.cache_bytes); }},
      {{"--intra-op-threads", 0, 4096}, [](const ServerOptions& o) { return double(o.batcher.intra_op_threads); }},
      // gRPC's limits are ints; below a few kilobytes not even an Info answer fits.
      {{"--max-message-bytes", 4096, kInt32Max}, [](const ServerOptions& o) { return double(o.max_message_bytes); }},
      {{"--max-stream-backlog-bytes", 0, kTebibyte}, [](const ServerOptions& o) { return double(o.max_stream_backlog_bytes); }},
      {{"--outlier-ratio", 1, 1e6, /*integer=*/false}, [](const ServerOptions& o) { return o.engine.outlier_ratio; }},
  };
  return bounds;
}

const OptionBound& BoundOf(const std::string& flag) {
  for (const BoundedOption& option : ServerOptionBounds())
    if (flag == option.bound.flag) return option.bound;
  std::abort();  // a flag without a bound is a programming error, caught by the flag tests
}

absl::Status CheckServerOptions(const ServerOptions& options) {
  for (const BoundedOption& option : ServerOptionBounds()) {
    const OptionBound& b = option.bound;
    const double value = option.value(options);
    if (!std::isfinite(value) || value < b.min || value > b.max || (b.integer && value != std::floor(value)))
      return absl::InvalidArgumentError(absl::StrCat(b.flag, " is ", Number(value), "; it must be ", b.Describe()));
  }
  if (options.max_prompts_per_request > options.batcher.max_queued_prompts)
    // Such a request would be refused as "queue is full" forever, however idle the server.
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-prompts-per-request (", options.max_prompts_per_request, ") is above --max-queued-prompts (",
        options.batcher.max_queued_prompts, "): requests that large could never be admitted"));
  if (!options.reload_root.empty() && !options.allow_reload)
    return absl::InvalidArgumentError("--reload-root applies to the Reload call: it needs --allow-reload");
  return absl::OkStatus();
}

}  // namespace sparsegate

#include "difficulty_service/service/metrics/service_metrics.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace sparsegate {
namespace {

// Label values escaped as the text format asks (backslash, quote, newline).
std::string Escape(const std::string& value) {
  return absl::StrReplaceAll(value, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
}

void Header(const std::string& name, const std::string& help, const char* type, std::string* out) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

std::vector<double> Exponential(double first, double factor, int count) {
  std::vector<double> bounds;
  for (double b = first; count-- > 0; b *= factor) bounds.push_back(b);
  return bounds;
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), buckets_(bounds_.size() + 1) {
  std::sort(bounds_.begin(), bounds_.end());
}

void Histogram::Observe(double value) {
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[bucket].fetch_add(1);
  for (double sum = sum_.load(); !sum_.compare_exchange_weak(sum, sum + value);) {
  }
}

void Histogram::Render(const std::string& name, const std::string& help, std::string* out) const {
  Header(name, help, "histogram", out);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += buckets_[i].load();
    absl::StrAppend(out, name, "_bucket{le=\"", bounds_[i], "\"} ", cumulative, "\n");
  }
  cumulative += buckets_.back().load();
  absl::StrAppend(out, name, "_bucket{le=\"+Inf\"} ", cumulative, "\n");
  absl::StrAppend(out, name, "_sum ", sum_.load(), "\n", name, "_count ", cumulative, "\n");
}

ServiceMetrics::ServiceMetrics()
    : tokenize_seconds(Exponential(1e-5, 4, 12)),
      queue_seconds(Exponential(1e-4, 4, 12)),
      forward_seconds(Exponential(1e-4, 4, 12)),
      batch_prompts({1, 2, 4, 8, 16, 32, 64, 128, 256}) {}

void ServiceMetrics::CountRequest(const std::string& method, absl::StatusCode code) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{method, code}];
}

void ServiceMetrics::CountPrompts(absl::StatusCode code, int64_t prompts) {
  std::lock_guard<std::mutex> lock(mu_);
  prompts_[code] += static_cast<uint64_t>(prompts);
}

void ServiceMetrics::CountRejection(const std::string& bound) {
  std::lock_guard<std::mutex> lock(mu_);
  ++rejections_[bound];
}

void ServiceMetrics::CountBatch(int64_t prompts, int64_t tokens, int64_t padded_tokens, double seconds) {
  batches_.fetch_add(1);
  tokens_.fetch_add(static_cast<uint64_t>(tokens));
  padded_tokens_.fetch_add(static_cast<uint64_t>(padded_tokens));
  batch_prompts.Observe(static_cast<double>(prompts));
  forward_seconds.Observe(seconds);
}

void ServiceMetrics::CountCache(int64_t hits, int64_t misses) {
  cache_hits_.fetch_add(static_cast<uint64_t>(hits));
  cache_misses_.fetch_add(static_cast<uint64_t>(misses));
}

void ServiceMetrics::CountForwardWork(int64_t computed_tokens, int64_t prefix_cache_hit_tokens, int64_t stored_blocks,
                                      int64_t evicted_blocks) {
  computed_tokens_.fetch_add(static_cast<uint64_t>(computed_tokens));
  prefix_hit_tokens_.fetch_add(static_cast<uint64_t>(prefix_cache_hit_tokens));
  prefix_stored_blocks_.fetch_add(static_cast<uint64_t>(stored_blocks));
  prefix_evicted_blocks_.fetch_add(static_cast<uint64_t>(evicted_blocks));
}

void ServiceMetrics::SetModel(const std::string& model_dir, const std::string& digest, double load_seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  model_dir_ = model_dir;
  digest_ = digest;
  load_seconds_ = load_seconds;
}

std::string ServiceMetrics::Render() const {
  std::string out;
  std::lock_guard<std::mutex> lock(mu_);
  Header("sparsegate_requests_total", "Finished RPCs by method and gRPC status code.", "counter", &out);
  for (const auto& [key, n] : requests_)
    absl::StrAppend(&out, "sparsegate_requests_total{method=\"", Escape(key.first), "\",code=\"",
                    absl::StatusCodeToString(key.second), "\"} ", n, "\n");
  Header("sparsegate_prompts_total", "Prompts of finished or refused scoring jobs, by the status they ended with.",
         "counter", &out);
  for (const auto& [code, n] : prompts_)
    absl::StrAppend(&out, "sparsegate_prompts_total{code=\"", absl::StatusCodeToString(code), "\"} ", n, "\n");
  Header("sparsegate_admission_rejections_total", "Jobs refused with RESOURCE_EXHAUSTED, by the bound they hit.",
         "counter", &out);
  for (const auto& [bound, n] : rejections_)
    absl::StrAppend(&out, "sparsegate_admission_rejections_total{bound=\"", Escape(bound), "\"} ", n, "\n");
  Header("sparsegate_queue_prompts", "Prompts admitted and not yet scored.", "gauge", &out);
  absl::StrAppend(&out, "sparsegate_queue_prompts ", queue_depth_ ? queue_depth_() : 0, "\n");
  Header("sparsegate_batches_total", "Forward passes run.", "counter", &out);
  absl::StrAppend(&out, "sparsegate_batches_total ", batches_.load(), "\n");
  Header("sparsegate_tokens_total", "Prompt tokens scored (rate() of it is tokens per second).", "counter", &out);
  absl::StrAppend(&out, "sparsegate_tokens_total ", tokens_.load(), "\n");
  Header("sparsegate_padded_tokens_total",
         "Tokens of the batches laid out padded (longest x prompts), what the token budget counts; the linear "
         "layers run on the packed tokens alone, and only a GPU's attention computes the padding.", "counter",
         &out);
  absl::StrAppend(&out, "sparsegate_padded_tokens_total ", padded_tokens_.load(), "\n");
  Header("sparsegate_computed_tokens_total",
         "Tokens the layers computed: a prefix shared within a batch counts once, one taken from the prefix "
         "cache not at all (1 - computed/tokens is what sharing saved).", "counter", &out);
  absl::StrAppend(&out, "sparsegate_computed_tokens_total ", computed_tokens_.load(), "\n");
  Header("sparsegate_prefix_cache_hit_tokens_total", "Prompt tokens whose states came from the prefix cache.",
         "counter", &out);
  absl::StrAppend(&out, "sparsegate_prefix_cache_hit_tokens_total ", prefix_hit_tokens_.load(), "\n");
  Header("sparsegate_prefix_cache_stored_blocks_total", "Blocks stored in the prefix cache.", "counter", &out);
  absl::StrAppend(&out, "sparsegate_prefix_cache_stored_blocks_total ", prefix_stored_blocks_.load(), "\n");
  Header("sparsegate_prefix_cache_evicted_blocks_total", "Blocks the prefix cache let go to stay within its bytes.",
         "counter", &out);
  absl::StrAppend(&out, "sparsegate_prefix_cache_evicted_blocks_total ", prefix_evicted_blocks_.load(), "\n");
  const PrefixCacheSize prefix_cache = prefix_cache_size_ ? prefix_cache_size_() : PrefixCacheSize{};
  Header("sparsegate_prefix_cache_blocks", "Blocks the prefix cache holds.", "gauge", &out);
  absl::StrAppend(&out, "sparsegate_prefix_cache_blocks ", prefix_cache.blocks, "\n");
  Header("sparsegate_prefix_cache_bytes", "Bytes the prefix cache holds.", "gauge", &out);
  absl::StrAppend(&out, "sparsegate_prefix_cache_bytes ", prefix_cache.bytes, "\n");
  batch_prompts.Render("sparsegate_batch_prompts", "Prompts per forward pass.", &out);
  tokenize_seconds.Render("sparsegate_tokenize_seconds", "Tokenization time per job.", &out);
  queue_seconds.Render("sparsegate_queue_seconds", "Time a job waited from tokenized until its last batch started.",
                       &out);
  forward_seconds.Render("sparsegate_forward_seconds", "Forward pass and metrics time per batch.", &out);
  Header("sparsegate_cache_hits_total", "Prompts answered from the result cache.", "counter", &out);
  absl::StrAppend(&out, "sparsegate_cache_hits_total ", cache_hits_.load(), "\n");
  Header("sparsegate_cache_misses_total", "Prompts the result cache did not hold (with the cache on).", "counter", &out);
  absl::StrAppend(&out, "sparsegate_cache_misses_total ", cache_misses_.load(), "\n");
  Header("sparsegate_cache_bytes", "Bytes the result cache holds.", "gauge", &out);
  absl::StrAppend(&out, "sparsegate_cache_bytes ", cache_bytes_ ? cache_bytes_() : 0, "\n");
  Header("sparsegate_model_info", "The model served: its directory and content digest.", "gauge", &out);
  if (!digest_.empty())
    absl::StrAppend(&out, "sparsegate_model_info{model_dir=\"", Escape(model_dir_), "\",digest=\"", Escape(digest_),
                    "\"} 1\n");
  Header("sparsegate_model_load_seconds", "Time the served model took to load and warm up.", "gauge", &out);
  absl::StrAppend(&out, "sparsegate_model_load_seconds ", load_seconds_, "\n");
  return out;
}

}  // namespace sparsegate

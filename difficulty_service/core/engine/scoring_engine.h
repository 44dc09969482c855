// The in-process scoring path: prompt -> token ids -> forward -> features.
//
// A ScoringEngine owns one loaded checkpoint (model, tokenizer, chat
// template). Prepare() turns one prompt into validated token ids; Run()
// scores a batch of prepared prompts in one forward pass over their tokens packed
// back to back (no padding is computed). It is the batcher's ScoreBackend
// (score_backend.h), which calls them from its pools; `sparsegate score` calls them directly.
// Both are const and thread-safe; Run() is meant for one worker thread at a
// time (it uses every intra-op thread).
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_ENGINE_SCORING_ENGINE_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_ENGINE_SCORING_ENGINE_H_

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "difficulty_service/core/checkpoint/checkpoint.h"
#include "difficulty_service/core/engine/score_backend.h"
#include "difficulty_service/core/features/feature_extractor.h"
#include "difficulty_service/core/model/decoder_model.h"
#include "difficulty_service/core/tokenizer/chat_template.h"
#include "difficulty_service/core/tokenizer/tokenizer.h"

namespace sparsegate {

struct EngineOptions {
  // 0: min(config max_position_embeddings, 8192).
  int64_t max_prompt_tokens = 0;
  // Longest prompt text accepted, in bytes, checked before tokenization so that refusing a huge
  // prompt costs nothing (left truncation included: it reads at most this many bytes). 0: 32 bytes
  // per token of max_prompt_tokens, far above the 3-5 bytes a token of natural text or code takes.
  int64_t max_prompt_bytes = 0;
  // Reference prompts for outlier-channel detection (empty: no detection).
  std::vector<std::string> outlier_reference_prompts;
  double outlier_ratio = 20.0;
  // Where the forward pass and the metrics run, and in which dtype (model/device.h).
  c10::Device device = c10::kCPU;
  std::optional<c10::ScalarType> dtype;  // nullopt: auto
  // A prefix of at least this many tokens that prompts of one batch share is computed once
  // (ModelLoadOptions::shared_prefix_min_tokens); 0: never.
  int64_t shared_prefix_min_tokens = 16;
  // Which library computes float32 products on the CPU (model/device.h, ModelLoadOptions::cpu_matmul).
  CpuMatmul cpu_matmul = CpuMatmul::kAuto;
  // Bytes of prefix states kept across forward passes (model/prefix_cache.h), so that a prompt
  // that begins like earlier ones computes only what follows, even alone in its batch; 0: off.
  // 64 MiB: about 2,000 tokens of a 0.5B Qwen2 (24.6 KB of keys and values per token, plus the kept
  // states), ten 200-token system prompts.
  int64_t prefix_cache_bytes = int64_t{64} << 20;
};

// What FitTokenBudget decided, and from what (for the log and the metrics).
struct TokenBudgetFit {
  int64_t tokens = 0;           // the padded-token budget to batch under
  int64_t free_bytes = -1;      // the device's free memory; -1 on the CPU or when it cannot be read
  int64_t bytes_per_token = 0;  // the worst-case estimate it was divided by

  // One line for the log: the budget and, on a GPU, the memory it was fitted to.
  std::string Describe(int64_t requested) const;
};

class ScoringEngine : public ScoreBackend {
 public:
  static absl::StatusOr<std::unique_ptr<ScoringEngine>> Load(const std::string& model_dir,
                                                             const EngineOptions& options = {});

  // Tokenizes (through the chat template when asked) and validates: not
  // empty, text within max_prompt_bytes, valid UTF-8, ids inside the vocabulary,
  // within max_prompt_tokens unless truncate_left keeps the last max_prompt_tokens. Errors are
  // InvalidArgument / FailedPrecondition without the prompt's index (the
  // caller knows it).
  absl::StatusOr<PreparedPrompt> Prepare(const PromptInput& input, bool truncate_left) const override;

  // Layers as the API takes them (negative from the end, empty = last),
  // resolved to indices in [0, num_layers] in request order; two naming the same index are an error.
  absl::StatusOr<std::vector<int>> ResolveLayers(const std::vector<int>& requested) const;
  // Channels must lie in [0, hidden_size); returns them sorted and unique.
  absl::StatusOr<std::vector<int64_t>> ResolveChannels(const std::vector<int64_t>& requested) const;

  // One packed forward pass up to the deepest layer any request names.
  std::vector<ScoredPrompt> Run(const std::vector<const PreparedPrompt*>& prompts,
                                const std::vector<const FeatureRequest*>& requests) const override;
  // Seconds Run has spent since load in its two stages, summed over calls: the forward pass, and the
  // pooling and metrics after it (benchmarks compare them to see what the features cost).
  struct StageSeconds {
    double forward = 0;
    double features = 0;
  };
  StageSeconds stage_seconds() const;
  // What the prefix cache holds and has saved (all zero when it is off).
  PrefixCacheStats prefix_cache_stats() const;
  const std::string& model_digest() const override { return checkpoint_->content_digest(); }
  int64_t shared_prefix_min_tokens() const override { return model_->shared_prefix_min_tokens(); }
  ForwardCounters forward_counters() const override;

  // The padded-token budget (BatcherOptions::token_budget) for forward passes on this engine's
  // device. On the CPU, `requested`. On a GPU, the largest budget up to `requested` whose worst
  // case (every hidden state kept, every row max_prompt_tokens() long, pooling) fits in 90% of the
  // memory the device has free when called: call it once the model is loaded, before serving.
  // ResourceExhausted, naming the sizes, when not even one prompt of max_prompt_tokens() fits;
  // `requested` when the free memory cannot be read (a build without the CUDA headers).
  absl::StatusOr<TokenBudgetFit> FitTokenBudget(int64_t requested) const;
  // Hands the engine to the thread that will compute with it: FitTokenBudget, then the calling
  // thread's OpenMP team is released (model/openmp_teams.h), since it loaded and warmed the model
  // and computes no more. Call once, on that thread, after warm-up. Batcher::Start does.
  absl::StatusOr<TokenBudgetFit> HandOverToWorker(int64_t requested) const;

  const Checkpoint& checkpoint() const { return *checkpoint_; }
  const ModelConfig& config() const { return checkpoint_->config(); }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  bool has_chat_template() const { return chat_template_.has_value(); }
  int64_t max_prompt_tokens() const { return max_prompt_tokens_; }
  int64_t max_prompt_bytes() const { return max_prompt_bytes_; }
  // What Load noticed but did not refuse (a chat template that does not parse), one sentence each.
  const std::vector<std::string>& load_warnings() const { return load_warnings_; }
  const c10::Device& device() const { return model_->device(); }
  c10::ScalarType dtype() const { return model_->dtype(); }
  // Where float32 products run on the CPU and why (DecoderModel::cpu_matmul_choice); empty elsewhere.
  const std::string& cpu_matmul_choice() const { return model_->cpu_matmul_choice(); }
  const OutlierChannels& detected_outliers() const { return extractor_.detected_outliers(); }

 private:
  ScoringEngine() = default;
  absl::Status DetectOutliers(const EngineOptions& options);

  std::unique_ptr<Checkpoint> checkpoint_;
  std::unique_ptr<DecoderModel> model_;
  std::unique_ptr<PrefixCache> prefix_cache_;  // null when off; thread-safe itself
  mutable std::atomic<int64_t> forward_nanos_{0}, features_nanos_{0}, computed_tokens_{0};
  std::unique_ptr<Tokenizer> tokenizer_;
  std::optional<ChatTemplate> chat_template_;
  FeatureExtractor extractor_;
  int64_t max_prompt_tokens_ = 0;
  int64_t max_prompt_bytes_ = 0;
  std::vector<std::string> load_warnings_;
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_ENGINE_SCORING_ENGINE_H_

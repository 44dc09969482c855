#include "difficulty_service/core/engine/scoring_engine.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "difficulty_service/core/model/openmp_teams.h"

namespace sparsegate {

absl::StatusOr<std::unique_ptr<ScoringEngine>> ScoringEngine::Load(const std::string& model_dir,
                                                                   const EngineOptions& options) {
  std::unique_ptr<ScoringEngine> engine(new ScoringEngine);
  auto checkpoint = Checkpoint::Open(model_dir);
  if (!checkpoint.ok()) return checkpoint.status();
  engine->checkpoint_ = *std::move(checkpoint);
  const Checkpoint& ckpt = *engine->checkpoint_;

  if (ckpt.tokenizer_json_path().empty())
    return absl::NotFoundError(absl::StrCat(model_dir, ": no tokenizer.json"));
  auto tokenizer = Tokenizer::FromFile(ckpt.tokenizer_json_path());
  if (!tokenizer.ok()) return tokenizer.status();
  engine->tokenizer_ = *std::move(tokenizer);
  engine->load_warnings_ = engine->tokenizer_->load_warnings();
  // An id past the embedding table would abort inside the forward pass; refuse the pair here.
  if (engine->tokenizer_->vocab_size() > ckpt.config().vocab_size)
    return absl::InvalidArgumentError(absl::StrCat(ckpt.tokenizer_json_path(), ": token ids go up to ",
                                                   engine->tokenizer_->vocab_size() - 1, ", past config.json's vocab_size ",
                                                   ckpt.config().vocab_size));
  if (!ckpt.tokenizer_config_path().empty()) {
    // A checkpoint without a usable chat template still scores plain text.
    auto chat = ChatTemplate::FromTokenizerConfig(ckpt.tokenizer_config_path());
    if (chat.ok()) {
      engine->chat_template_ = *std::move(chat);
    } else if (chat.status().code() != absl::StatusCode::kNotFound) {  // NotFound: no template, nothing amiss
      engine->load_warnings_.push_back(
          absl::StrCat(chat.status().message(), "; prompts with apply_chat_template will be refused"));
    }
  }

  ModelLoadOptions load_options;
  load_options.device = options.device;
  load_options.dtype = options.dtype;
  load_options.shared_prefix_min_tokens = options.shared_prefix_min_tokens;
  load_options.cpu_matmul = options.cpu_matmul;
  auto model = DecoderModel::Load(ckpt, load_options);
  if (!model.ok()) return model.status();
  engine->model_ = *std::move(model);
  if (options.prefix_cache_bytes > 0) {
    PrefixCacheOptions cache;
    cache.max_bytes = options.prefix_cache_bytes;
    engine->prefix_cache_ = std::make_unique<PrefixCache>(cache);
  }

  const ModelConfig& config = ckpt.config();
  int64_t limit = options.max_prompt_tokens;
  if (limit <= 0) limit = config.max_position_embeddings > 0 ? std::min<int64_t>(config.max_position_embeddings, 8192) : 8192;
  engine->max_prompt_tokens_ = limit;
  engine->max_prompt_bytes_ = options.max_prompt_bytes > 0 ? options.max_prompt_bytes : 32 * limit;

  if (!options.outlier_reference_prompts.empty()) {
    absl::Status status = engine->DetectOutliers(options);
    if (!status.ok()) return status;
  }
  return engine;
}

absl::Status ScoringEngine::DetectOutliers(const EngineOptions& options) {
  std::vector<PreparedPrompt> prepared;
  for (size_t i = 0; i < options.outlier_reference_prompts.size(); ++i) {
    PromptInput input;
    input.text = options.outlier_reference_prompts[i];
    auto p = Prepare(input, /*truncate_left=*/true);
    if (!p.ok()) return absl::InvalidArgumentError(absl::StrCat("outlier reference prompt ", i + 1, ": ", p.status().message()));
    prepared.push_back(*std::move(p));
  }
  std::vector<int> all_layers;
  for (int i = 0; i <= model_->num_layers(); ++i) all_layers.push_back(i);
  FeatureRequest request;
  request.layers = all_layers;
  request.poolings = {Pooling::kLastToken, Pooling::kMean};
  request.return_hidden = true;

  std::map<int, std::vector<at::Tensor>> vectors;
  constexpr size_t kChunk = 16;  // bounds the padded batch's memory
  for (size_t start = 0; start < prepared.size(); start += kChunk) {
    std::vector<const PreparedPrompt*> chunk;
    std::vector<const FeatureRequest*> requests;
    for (size_t i = start; i < std::min(prepared.size(), start + kChunk); ++i) {
      chunk.push_back(&prepared[i]);
      requests.push_back(&request);
    }
    for (const ScoredPrompt& f : Run(chunk, requests))
      for (const FeatureSet& set : f.features)
        vectors[set.layer].push_back(at::tensor(set.hidden, at::kFloat));
  }
  std::map<int, at::Tensor> stacked;
  for (auto& [layer, list] : vectors) stacked[layer] = at::stack(list);
  extractor_ = FeatureExtractor(DetectOutlierChannels(stacked, options.outlier_ratio));
  return absl::OkStatus();
}

absl::StatusOr<PreparedPrompt> ScoringEngine::Prepare(const PromptInput& input, bool truncate_left) const {
  PreparedPrompt out;
  if (input.text.has_value() == input.ids.has_value())
    return absl::InvalidArgumentError("a prompt needs exactly one of text and token ids");
  if (input.text) {
    if (input.text->empty()) return absl::InvalidArgumentError("prompt text is empty");
    // Before any work: normalising and pre-tokenising a 60 MB text took half a minute and gigabytes.
    if (static_cast<int64_t>(input.text->size()) > max_prompt_bytes_)
      return absl::InvalidArgumentError(absl::StrCat("prompt text has ", input.text->size(), " bytes, over the limit of ",
                                                     max_prompt_bytes_, " (--max-prompt-bytes; left truncation reads no "
                                                     "more either: send the prompt's end)"));
    std::string text = *input.text;
    if (input.apply_chat_template) {
      if (!chat_template_)
        return absl::FailedPreconditionError("apply_chat_template was asked for but the checkpoint has no supported chat template");
      text = chat_template_->RenderUserPrompt(text);
    }
    // The chat template already spells out any BOS; otherwise follow the tokenizer's post-processor.
    // A prompt that will be refused is tokenized only far enough to say by how much (bounded work
    // per request: a 55 MB prompt used to hold the tokenizer thread for 20 s).
    const size_t cap = truncate_left ? std::numeric_limits<size_t>::max() : static_cast<size_t>(8 * max_prompt_tokens_);
    auto ids = tokenizer_->Encode(text, /*add_special_tokens=*/!input.apply_chat_template, cap);
    if (!ids.ok()) return ids.status();
    if (ids->size() > cap)
      return absl::InvalidArgumentError(absl::StrCat("prompt has more than ", cap, " tokens, over the limit of ",
                                                     max_prompt_tokens_, " (ask for left truncation to keep the last ",
                                                     max_prompt_tokens_, ")"));
    out.ids = *std::move(ids);
  } else {
    if (input.apply_chat_template)
      return absl::InvalidArgumentError("apply_chat_template applies to text prompts, not token ids");
    out.ids = *input.ids;
    const int64_t vocab = config().vocab_size;
    for (size_t i = 0; i < out.ids.size(); ++i) {
      if (out.ids[i] < 0 || out.ids[i] >= vocab)
        return absl::InvalidArgumentError(
            absl::StrCat("token id ", out.ids[i], " at position ", i, " is outside the vocabulary [0, ", vocab, ")"));
    }
  }
  if (out.ids.empty()) return absl::InvalidArgumentError("prompt has no tokens");
  const int64_t n = static_cast<int64_t>(out.ids.size());
  out.original_token_count = n;
  if (n > max_prompt_tokens_) {
    if (!truncate_left)
      return absl::InvalidArgumentError(absl::StrCat("prompt has ", n, " tokens, over the limit of ", max_prompt_tokens_,
                                                     " (ask for left truncation to keep the last ", max_prompt_tokens_, ")"));
    out.ids.erase(out.ids.begin(), out.ids.end() - max_prompt_tokens_);
    out.truncated = true;
  }
  return out;
}

absl::StatusOr<std::vector<int>> ScoringEngine::ResolveLayers(const std::vector<int>& requested) const {
  const int last = model_->num_layers();
  if (requested.empty()) return std::vector<int>{last};
  std::vector<int> out;
  for (int layer : requested) {
    int resolved = layer < 0 ? last + 1 + layer : layer;
    if (resolved < 0 || resolved > last)
      return absl::InvalidArgumentError(absl::StrCat("layer ", layer, " is outside [", -(last + 1), ", ", last,
                                                     "] (the model has ", last, " layers; 0 = embeddings)"));
    if (std::find(out.begin(), out.end(), resolved) != out.end())
      return absl::InvalidArgumentError(absl::StrCat("layer ", layer, " names hidden state ", resolved,
                                                     ", which is already asked for; each layer once"));
    out.push_back(resolved);
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> ScoringEngine::ResolveChannels(const std::vector<int64_t>& requested) const {
  std::set<int64_t> channels;
  const int64_t d = config().hidden_size;
  for (int64_t c : requested) {
    if (c < 0 || c >= d)
      return absl::InvalidArgumentError(absl::StrCat("excluded channel ", c, " is outside [0, ", d, ")"));
    channels.insert(c);
  }
  if (static_cast<int64_t>(channels.size()) >= d)
    return absl::InvalidArgumentError("excluding every channel leaves nothing to measure");
  return std::vector<int64_t>(channels.begin(), channels.end());
}

std::string TokenBudgetFit::Describe(int64_t requested) const {
  if (bytes_per_token == 0) return absl::StrCat("batching under ", tokens, " padded tokens per forward pass");
  if (free_bytes < 0)
    return absl::StrCat("batching under ", tokens, " padded tokens per forward pass, not checked against the GPU's ",
                        "memory (this build cannot read it); the worst case is ", bytes_per_token, " bytes per token");
  return absl::StrCat("batching under ", tokens, " padded tokens per forward pass (", requested, " asked for; ",
                      free_bytes >> 20, " MiB free on the GPU, worst case ", bytes_per_token, " bytes per token)");
}

absl::StatusOr<TokenBudgetFit> ScoringEngine::HandOverToWorker(int64_t requested) const {
  absl::StatusOr<TokenBudgetFit> fit = FitTokenBudget(requested);
  if (fit.ok()) ReleaseOpenMpTeamOfThisThread();
  return fit;
}

absl::StatusOr<TokenBudgetFit> ScoringEngine::FitTokenBudget(int64_t requested) const {
  TokenBudgetFit fit{requested, -1, 0};
  if (!device().is_cuda()) return fit;
  const int64_t d = config().hidden_size, e = c10::elementSize(dtype());
  // The model's forward, plus pooling's masked copy of one hidden state and its float32 sum.
  fit.bytes_per_token = model_->ForwardBytesPerToken(max_prompt_tokens_, model_->num_layers() + 1) +
                        d * e + d * static_cast<int64_t>(sizeof(float));
  absl::StatusOr<int64_t> free = DeviceFreeBytes(device());
  if (!free.ok()) return fit;
  fit.free_bytes = *free;
  // The 10% left over covers what the estimate leaves out (allocator rounding and fragmentation,
  // the metric kernels' [B, d] tensors), as vLLM's default gpu_memory_utilization does.
  const int64_t fits = static_cast<int64_t>(0.9 * static_cast<double>(*free)) / fit.bytes_per_token;
  if (fits < max_prompt_tokens_)
    return absl::ResourceExhaustedError(absl::StrCat(
        "one prompt of max_prompt_tokens (", max_prompt_tokens_, ") needs an estimated ",
        max_prompt_tokens_ * fit.bytes_per_token >> 20, " MiB for its forward pass, but ", device().str(), " has ",
        *free >> 20, " MiB free (90% usable): lower --max-prompt-tokens or free the GPU"));
  fit.tokens = std::min(requested, fits);
  return fit;
}

std::vector<ScoredPrompt> ScoringEngine::Run(const std::vector<const PreparedPrompt*>& prompts,
                                               const std::vector<const FeatureRequest*>& requests) const {
  c10::InferenceMode guard;
  const int64_t B = static_cast<int64_t>(prompts.size());
  std::vector<int64_t> lengths(B);
  int64_t N = 0;
  for (int64_t b = 0; b < B; ++b) N += lengths[b] = static_cast<int64_t>(prompts[b]->ids.size());
  // Packed back to back: no padding is computed (DecoderModel::PackedHiddenStates).
  at::Tensor ids = at::empty({N}, at::kLong);
  int64_t* next = ids.data_ptr<int64_t>();
  for (const PreparedPrompt* p : prompts) next = std::copy(p->ids.begin(), p->ids.end(), next);
  std::set<int> indices;
  for (const FeatureRequest* r : requests) indices.insert(r->layers.begin(), r->layers.end());
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  int64_t computed = 0;
  auto hidden = model_->PackedHiddenStates(ids, lengths, std::vector<int>(indices.begin(), indices.end()), &computed,
                                           prefix_cache_.get());
  computed_tokens_ += computed;
  const auto forward_done = Clock::now();
  auto sets = extractor_.Extract(hidden, lengths, requests);
  forward_nanos_ += std::chrono::duration_cast<std::chrono::nanoseconds>(forward_done - start).count();
  features_nanos_ += std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - forward_done).count();
  std::vector<ScoredPrompt> out(B);
  for (int64_t b = 0; b < B; ++b) {
    out[b].token_count = lengths[b];
    out[b].truncated = prompts[b]->truncated;
    out[b].original_token_count = prompts[b]->original_token_count;
    out[b].features = std::move(sets[b]);
  }
  return out;
}

PrefixCacheStats ScoringEngine::prefix_cache_stats() const {
  return prefix_cache_ ? prefix_cache_->stats() : PrefixCacheStats{};
}

ForwardCounters ScoringEngine::forward_counters() const {
  return {computed_tokens_.load(), prefix_cache_stats()};
}

ScoringEngine::StageSeconds ScoringEngine::stage_seconds() const {
  return {forward_nanos_.load() / 1e9, features_nanos_.load() / 1e9};
}

}  // namespace sparsegate

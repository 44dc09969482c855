// The model core measured against references taken in the same process, and the hidden-state dump
// of the GPU parity check. No gRPC: this builds wherever the core builds.
//
//   core_benchmark forward  --model DIR [--device D] [--dtype T] [--cpu-matmul M] [--prompts 64] [--runs 5] [--json F] [--ids-out F]
//       P1: forward throughput in useful FLOP/s over a large matrix product's FLOP/s on the same
//       device and dtype; P4 (in process): latency of one short prompt, idle. Both also give the
//       share of scoring time spent on pooling and metrics after the forward pass.
//   core_benchmark generate --model DIR [--device D] [--prompts 16] [--samples 8] [--max-new-tokens 64]
//       P5: the cost of scoring a prompt against generating `samples` rollouts of it.
//   core_benchmark budget   --model DIR [--device cuda] [--max-prompt-tokens 2048] [--token-budget N]
//       The GPU's memory-bounded batch (ScoringEngine::FitTokenBudget) put to the test: the
//       worst case it admits (rows of max-prompt-tokens, every hidden state kept) run for real.
//   core_benchmark dtypes   --model DIR [--prompts 64] [--runs 3]
//       float32 against bfloat16 on the CPU: the forward's throughput in each, a matrix product's
//       FLOP/s in each, and how far bfloat16 moves each metric (in units of the metric's spread over
//       the prompts, and as the rank correlation of the prompts' values).
//   core_benchmark hidden   --model DIR --ids FILE --out FILE [--device D] [--dtype T]
//       Every hidden state of a right-padded batch (FILE: JSON [[ids], ...]) as float32,
//       [num_layers + 1, B, T, hidden] in OUT, with OUT.json describing it.
//
// Useful FLOPs count each prompt's own tokens, not its padding: 2 x (weights of the layers run) per
// token, plus causal attention's 2 x 2 x heads x head_dim x n(n+1)/2 per layer. Padding, copies and
// metrics therefore show as a lower share.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

#include "difficulty_service/core/engine/runtime.h"
#include "difficulty_service/core/engine/scoring_engine.h"
#include "difficulty_service/core/model/blas_probe.h"
#include "difficulty_service/core/model/decoder_model.h"
#include "difficulty_service/core/model/generation.h"
#include "nlohmann/json.hpp"
#include "tests/benchmark/benchmark_prompts.h"

namespace sparsegate {
namespace {

using benchmark::MakePrompts;
using benchmark::Median;
using benchmark::Percentile;

using Clock = std::chrono::steady_clock;
using nlohmann::json;


void Synchronize(const c10::Device& device) {
  // A scalar read waits for the device's queue; on the CPU it is free.
  if (!device.is_cpu()) at::zeros({1}, at::TensorOptions().device(device)).sum().item<float>();
}

template <typename F>
double TimeIt(const c10::Device& device, F&& f) {
  Synchronize(device);
  auto start = Clock::now();
  f();
  Synchronize(device);
  return std::chrono::duration<double>(Clock::now() - start).count();
}


double UsefulFlops(const ModelConfig& c, int64_t n) {
  const double H = c.hidden_size, I = c.intermediate_size, hd = c.head_dim;
  const double q = c.num_attention_heads * hd, kv = c.num_key_value_heads * hd;
  const double weights = H * q + 2 * H * kv + q * H + 3 * H * I;
  const double tokens = static_cast<double>(n);
  return c.num_hidden_layers * (2 * weights * tokens + 4 * q * tokens * (tokens + 1) / 2);
}

// A large square matrix product in the model's dtype on its device: the throughput the forward is
// measured against. `onednn`: float32 on the CPU through oneDNN instead of the BLAS, as the
// forward's products go there (cpu_matmul.h: one operand in oneDNN's layout, the other converted
// on every call).
double MatmulFlopsPerSecond(const c10::Device& device, c10::ScalarType dtype, int runs, bool onednn = false) {
  const int64_t n = device.is_cpu() ? 2048 : 8192;
  auto options = at::TensorOptions().device(device).dtype(dtype);
  at::Tensor a = at::randn({n, n}, options), b = at::randn({n, n}, options);
  const Projection weight{at::Tensor(), at::Tensor(), onednn ? b.to_mkldnn() : at::Tensor()};
  auto product = [&] { return onednn ? Project(a, weight, 1) : at::mm(a, b); };
  product();  // warm-up
  std::vector<double> seconds;
  for (int r = 0; r < std::max(3, runs); ++r) seconds.push_back(TimeIt(device, [&] { product(); }));
  return 2.0 * n * n * n / Median(seconds);
}

struct Common {
  std::string model;
  std::string device = "cpu", dtype = "auto", cpu_matmul = "auto";
  int prompts = 64, runs = 5;
  std::string json_out;
  std::string ids_out;  // forward: the prompts' token ids, for a baseline that must score the same ones
  int64_t max_prompt_tokens = 0;  // budget: EngineOptions::max_prompt_tokens
  // The benchmarks score the same prompts in every run, so a prefix cache across batches would
  // measure repetition rather than the forward: off, except in `prefix-cache`, which scores fresh
  // prompts in every run.
  int64_t prefix_cache_bytes = 0;
};

// --device, --dtype and --cpu-matmul as load options.
absl::StatusOr<ModelLoadOptions> Placement(const Common& flags) {
  auto device = ParseDevice(flags.device);
  if (!device.ok()) return device.status();
  auto dtype = ParseComputeDtype(flags.dtype);
  if (!dtype.ok()) return dtype.status();
  ModelLoadOptions options;
  options.device = *device;
  options.dtype = *dtype;
  auto cpu_matmul = ParseCpuMatmul(flags.cpu_matmul);
  if (!cpu_matmul.ok()) return cpu_matmul.status();
  options.cpu_matmul = *cpu_matmul;
  return options;
}

// The engine the flags describe; `adjust`, when given, changes its options before the load.
absl::StatusOr<std::unique_ptr<ScoringEngine>> LoadEngine(const Common& flags,
                                                          const std::function<void(EngineOptions*)>& adjust) {
  auto placement = Placement(flags);
  if (!placement.ok()) return placement.status();
  EngineOptions options;
  options.device = placement->device;
  options.dtype = placement->dtype;
  options.cpu_matmul = placement->cpu_matmul;
  options.max_prompt_tokens = flags.max_prompt_tokens;
  options.prefix_cache_bytes = flags.prefix_cache_bytes;
  if (adjust) adjust(&options);
  return ScoringEngine::Load(flags.model, options);
}

// The share of Run's time between two readings spent on pooling and metrics.
double FeaturesShare(const ScoringEngine::StageSeconds& before, const ScoringEngine::StageSeconds& after) {
  const double features = after.features - before.features;
  return features / (after.forward - before.forward + features);
}

// The engine, or null once the reason it did not load is on stderr.
std::unique_ptr<ScoringEngine> LoadEngineOrSay(const Common& flags,
                                               const std::function<void(EngineOptions*)>& adjust = {}) {
  auto engine = LoadEngine(flags, adjust);
  if (engine.ok()) return *std::move(engine);
  std::fprintf(stderr, "%s\n", std::string(engine.status().message()).c_str());
  return nullptr;
}

std::vector<PreparedPrompt> Prepare(const ScoringEngine& engine, const std::vector<std::string>& texts) {
  std::vector<PreparedPrompt> out;
  for (const auto& text : texts) {
    PromptInput input;
    input.text = text;
    out.push_back(*engine.Prepare(input, /*truncate_left=*/true));
  }
  return out;
}

// Sorted by length and cut under the token budget, as the service's batcher cuts them.
double ScoreAll(const ScoringEngine& engine, const std::vector<PreparedPrompt>& prepared, int64_t token_budget) {
  FeatureRequest request;
  request.layers = {static_cast<int>(engine.config().num_hidden_layers)};
  request.poolings = {Pooling::kLastToken, Pooling::kMean};
  return TimeIt(engine.device(), [&] { benchmark::ScoreInBatches(engine, prepared, token_budget, request); });
}

void Emit(const Common& flags, const json& result) {
  std::printf("%s\n", result.dump(2).c_str());
  if (!flags.json_out.empty()) std::ofstream(flags.json_out) << result.dump(2) << "\n";
}

int Forward(const Common& flags, int64_t token_budget) {
  std::unique_ptr<ScoringEngine> engine = LoadEngineOrSay(flags);
  if (!engine) return 1;
  const ScoringEngine& e = *engine;
  std::vector<PreparedPrompt> prepared = Prepare(e, MakePrompts(flags.prompts));
  if (!flags.ids_out.empty()) {
    json ids = json::array();
    for (const auto& p : prepared) ids.push_back(p.ids);
    std::ofstream(flags.ids_out) << ids.dump() << "\n";
  }
  double flops = 0;
  int64_t tokens = 0;
  for (const auto& p : prepared) {
    flops += UsefulFlops(e.config(), static_cast<int64_t>(p.ids.size()));
    tokens += static_cast<int64_t>(p.ids.size());
  }
  ScoreAll(e, prepared, token_budget);  // warm-up
  // The reference is the faster library's product where the forward may use oneDNN.
  const bool onednn = e.device().is_cpu() && e.dtype() == at::kFloat && at::hasMKLDNN();
  std::vector<double> seconds, matmul, matmul_onednn;
  const ScoringEngine::StageSeconds before = e.stage_seconds();
  for (int r = 0; r < flags.runs; ++r) {
    seconds.push_back(ScoreAll(e, prepared, token_budget));
    matmul.push_back(MatmulFlopsPerSecond(e.device(), e.dtype(), 3));
    if (onednn) matmul_onednn.push_back(MatmulFlopsPerSecond(e.device(), e.dtype(), 3, /*onednn=*/true));
  }
  const double features_share = FeaturesShare(before, e.stage_seconds());
  const double forward_rate = flops / Median(seconds),
               matmul_rate = std::max(Median(matmul), onednn ? Median(matmul_onednn) : 0.0);

  // P4 in process: one short prompt at a time, nothing else running.
  std::vector<PreparedPrompt> short_prompt = Prepare(e, {"What is 12 + 7?"});
  std::vector<double> latency;
  for (int i = 0; i < 20; ++i) ScoreAll(e, short_prompt, token_budget);  // warm-up
  const ScoringEngine::StageSeconds short_before = e.stage_seconds();
  for (int i = 0; i < 180; ++i) latency.push_back(ScoreAll(e, short_prompt, token_budget));
  const double short_features_share = FeaturesShare(short_before, e.stage_seconds());

  json result = {
      {"benchmark", "forward"}, {"model", flags.model}, {"device", e.device().str()},
      {"dtype", ComputeDtypeName(e.dtype())}, {"intra_op_threads", at::get_num_threads()}, {"blas", BlasKernels()},
      {"cpu_matmul", flags.cpu_matmul}, {"cpu_matmul_choice", e.cpu_matmul_choice()},
      {"prompts", flags.prompts}, {"tokens", tokens}, {"runs", flags.runs},
      {"P1", {{"forward_useful_flops_per_s", forward_rate}, {"matmul_flops_per_s", matmul_rate},
              {"matmul_blas_flops_per_s", Median(matmul)},
              {"matmul_onednn_flops_per_s", onednn ? Median(matmul_onednn) : 0.0},
              {"share_of_matmul", forward_rate / matmul_rate}, {"median_seconds", Median(seconds)},
              {"prompts_per_s", flags.prompts / Median(seconds)},
              {"features_share_of_scoring", features_share}}},
      {"P4_in_process", {{"prompt_tokens", short_prompt[0].ids.size()}, {"p50_ms", 1e3 * Percentile(latency, 0.5)},
                         {"p99_ms", 1e3 * Percentile(latency, 0.99)},
                         {"features_share_of_scoring", short_features_share}}},
  };
  Emit(flags, result);
  return 0;
}

int GenerateCost(const Common& flags, int samples, int max_new_tokens, int64_t token_budget) {
  std::unique_ptr<ScoringEngine> engine = LoadEngineOrSay(flags);
  if (!engine) return 1;
  const ScoringEngine& e = *engine;
  ModelLoadOptions load;
  load.lm_head = true;
  load.device = e.device();
  load.dtype = e.dtype();
  auto model = DecoderModel::Load(e.checkpoint(), load);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", std::string(model.status().message()).c_str());
    return 1;
  }
  std::vector<PreparedPrompt> prepared = Prepare(e, MakePrompts(flags.prompts, 7));
  GenerationOptions options;
  options.num_samples = samples;
  options.max_new_tokens = max_new_tokens;
  options.temperature = 1.0;
  options.stop_ids = e.config().eos_token_ids;
  ScoreAll(e, prepared, token_budget);  // warm-up
  std::vector<double> score, generate;
  int64_t generated = 0;
  for (int r = 0; r < flags.runs; ++r) {
    score.push_back(ScoreAll(e, prepared, token_budget) / flags.prompts);
    double total = 0;
    for (const auto& p : prepared) {
      options.seed = static_cast<uint64_t>(r);
      total += TimeIt(e.device(), [&] {
        for (const auto& sample : Generate(**model, p.ids, options)) generated += static_cast<int64_t>(sample.size());
      });
    }
    generate.push_back(total / flags.prompts);
  }
  json result = {
      {"benchmark", "generate"}, {"model", flags.model}, {"device", e.device().str()},
      {"dtype", ComputeDtypeName(e.dtype())}, {"prompts", flags.prompts}, {"runs", flags.runs},
      {"P5", {{"score_seconds_per_prompt", Median(score)}, {"generate_seconds_per_prompt", Median(generate)},
              {"samples", samples}, {"max_new_tokens", max_new_tokens},
              {"mean_generated_tokens", static_cast<double>(generated) / (flags.runs * flags.prompts * samples)},
              {"score_over_generate", Median(score) / Median(generate)}}},
  };
  Emit(flags, result);
  return 0;
}

int Budget(const Common& flags, int64_t token_budget) {
  std::unique_ptr<ScoringEngine> engine = LoadEngineOrSay(flags);
  if (!engine) return 1;
  const ScoringEngine& e = *engine;
  json result = {{"benchmark", "budget"}, {"model", flags.model}, {"device", e.device().str()},
                 {"dtype", ComputeDtypeName(e.dtype())}, {"max_prompt_tokens", e.max_prompt_tokens()},
                 {"requested_tokens", token_budget}};
  auto fit = e.FitTokenBudget(token_budget);
  if (!fit.ok()) {
    result["error"] = std::string(fit.status().message());
    Emit(flags, result);
    return 1;
  }
  result["fitted_tokens"] = fit->tokens;
  result["free_bytes"] = fit->free_bytes;
  result["bytes_per_token"] = fit->bytes_per_token;
  // The worst case the batcher can cut under this budget: every row as long as allowed, every
  // hidden state kept, as one forward pass.
  const int64_t rows = std::max<int64_t>(1, fit->tokens / e.max_prompt_tokens());
  PreparedPrompt longest;
  std::mt19937 random(7);
  std::uniform_int_distribution<int32_t> token(0, static_cast<int32_t>(e.tokenizer().vocab_size() - 1));
  for (int64_t t = 0; t < e.max_prompt_tokens(); ++t) longest.ids.push_back(token(random));
  longest.original_token_count = e.max_prompt_tokens();
  std::vector<const PreparedPrompt*> batch(static_cast<size_t>(rows), &longest);
  FeatureRequest every;
  for (int i = 0; i <= e.config().num_hidden_layers; ++i) every.layers.push_back(i);
  every.poolings = {Pooling::kLastToken, Pooling::kMean};
  std::vector<const FeatureRequest*> requests(batch.size(), &every);
  result["rows"] = rows;
  try {
    result["seconds"] = TimeIt(e.device(), [&] { e.Run(batch, requests); });
    result["ran"] = true;
  } catch (const std::exception& error) {  // an out-of-memory is a c10::Error
    result["ran"] = false;
    result["error"] = std::string(error.what()).substr(0, 600);
  }
  Emit(flags, result);
  return result["ran"].get<bool>() ? 0 : 1;
}

// The model alone (no tokenizer needed: the parity check's random checkpoints have none).
int Hidden(const Common& flags, const std::string& ids_file, const std::string& out) {
  auto checkpoint = Checkpoint::Open(flags.model);
  auto placement = Placement(flags);
  for (const absl::Status& s : {checkpoint.status(), placement.status()}) {
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  std::ifstream in(ids_file);
  json rows = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!rows.is_array() || rows.empty()) {
    std::fprintf(stderr, "%s: not a JSON array of token id arrays\n", ids_file.c_str());
    return 2;
  }
  auto model = DecoderModel::Load(**checkpoint, *placement);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", std::string(model.status().message()).c_str());
    return 1;
  }
  // The engine's path: the rows packed back to back, then laid out right-padded (zeros) for the file.
  int64_t T = 0;
  std::vector<int64_t> ids, lengths;
  for (const auto& row : rows) {
    for (const auto& id : row) ids.push_back(id.get<int64_t>());
    lengths.push_back(static_cast<int64_t>(row.size()));
    T = std::max(T, lengths.back());
  }
  const int64_t B = static_cast<int64_t>(rows.size());
  std::vector<int> all;
  for (int i = 0; i <= (*model)->num_layers(); ++i) all.push_back(i);
  c10::InferenceMode guard;
  auto hidden = (*model)->PackedHiddenStates(at::tensor(ids, at::kLong), lengths, all);
  const int64_t d = (*model)->config().hidden_size;
  at::Tensor all_states = at::zeros({static_cast<int64_t>(all.size()), B, T, d}, at::kFloat);
  for (int i : all) {
    at::Tensor packed = hidden.at(i).to(at::kCPU, at::kFloat);
    for (int64_t b = 0, start = 0; b < B; start += lengths[b], ++b)
      all_states[i][b].narrow(0, 0, lengths[b]).copy_(packed.narrow(0, start, lengths[b]));
  }
  std::ofstream(out, std::ios::binary).write(static_cast<const char*>(all_states.data_ptr()), all_states.nbytes());
  std::ofstream(out + ".json") << json{{"shape", all_states.sizes().vec()}, {"dtype", "float32"},
                                       {"device", (*model)->device().str()},
                                       {"compute_dtype", ComputeDtypeName((*model)->dtype())}}.dump() << "\n";
  return 0;
}

using Batches = std::vector<std::vector<const PreparedPrompt*>>;

// Batches cut in the prompts' own order under the token budget (padded size: longest x count).
Batches CutInOrder(const std::vector<PreparedPrompt>& prepared, int64_t token_budget) {
  Batches batches(1);
  size_t longest = 0;
  for (const PreparedPrompt& p : prepared) {
    if (!batches.back().empty() &&
        std::max(longest, p.ids.size()) * (batches.back().size() + 1) > static_cast<size_t>(token_budget)) {
      batches.emplace_back();
      longest = 0;
    }
    longest = std::max(longest, p.ids.size());
    batches.back().push_back(&p);
  }
  return batches;
}

FeatureRequest LastLayerBothPoolings(const ScoringEngine& engine) {
  FeatureRequest request;
  request.layers = {static_cast<int>(engine.config().num_hidden_layers)};
  request.poolings = {Pooling::kLastToken, Pooling::kMean};
  return request;
}

// Seconds to score every batch; the results, in the prompts' order, into `out` when given.
double RunBatches(const ScoringEngine& engine, const Batches& batches, const FeatureRequest& request,
                  std::vector<ScoredPrompt>* out) {
  return TimeIt(engine.device(), [&] {
    for (const auto& batch : batches) {
      std::vector<const FeatureRequest*> requests(batch.size(), &request);
      std::vector<ScoredPrompt> scored = engine.Run(batch, requests);
      if (out) out->insert(out->end(), scored.begin(), scored.end());
    }
  });
}

// Prefix sharing in process: the same prompts scored by an engine that computes a shared prefix
// once and by one that does not (EngineOptions::shared_prefix_min_tokens = 0), in batches cut in
// the workload's order (a prompt's hinted variants stay together, as a request keeps them), under
// the token budget; medians of --runs. The features must agree (benchmark::MetricAgreement).
int Prefixes(const Common& flags, const std::string& workload, int64_t token_budget) {
  std::unique_ptr<ScoringEngine> engines[2];
  for (int shared = 0; shared < 2; ++shared) {
    engines[shared] = LoadEngineOrSay(flags, [&](EngineOptions* options) {
      if (!shared) options->shared_prefix_min_tokens = 0;
    });
    if (!engines[shared]) return 1;
  }
  const ScoringEngine& e = *engines[0];
  auto count_tokens = [&](const std::string& text) {
    return static_cast<int64_t>(Prepare(e, {text})[0].ids.size());
  };
  std::vector<PreparedPrompt> prepared = Prepare(e, benchmark::MakeWorkload(workload, flags.prompts, count_tokens));
  const Batches batches = CutInOrder(prepared, token_budget);
  int64_t tokens = 0;
  for (const PreparedPrompt& p : prepared) tokens += static_cast<int64_t>(p.ids.size());
  const FeatureRequest request = LastLayerBothPoolings(e);
  auto score = [&](const ScoringEngine& engine, std::vector<ScoredPrompt>* out) {
    return RunBatches(engine, batches, request, out);
  };
  std::vector<ScoredPrompt> unshared_features, shared_features;
  score(*engines[0], &unshared_features);  // warm-up, and the features compared
  score(*engines[1], &shared_features);
  benchmark::MetricAgreement agreement;
  for (size_t i = 0; i < prepared.size(); ++i)
    for (size_t f = 0; f < unshared_features[i].features.size(); ++f)
      agreement.Add(unshared_features[i].features[f].metrics.data(), shared_features[i].features[f].metrics.data(),
                    e.config().hidden_size);
  std::vector<double> unshared, shared;
  for (int r = 0; r < flags.runs; ++r) {
    unshared.push_back(score(*engines[0], nullptr));
    shared.push_back(score(*engines[1], nullptr));
  }
  json result = {{"benchmark", "prefixes"}, {"model", flags.model}, {"workload", workload},
                 {"device", e.device().str()}, {"intra_op_threads", at::get_num_threads()},
                 {"prompts", flags.prompts}, {"tokens", tokens}, {"batches", batches.size()}, {"runs", flags.runs},
                 {"unshared_prompts_per_s", flags.prompts / Median(unshared)},
                 {"shared_prompts_per_s", flags.prompts / Median(shared)},
                 {"shared_over_unshared", Median(unshared) / Median(shared)},
                 {"largest_metric_difference", agreement.largest_difference},
                 {"heavy_tail_fraction_channels_moved", agreement.heavy_tail_channels},
                 {"features_agree", agreement.Agree()}};
  Emit(flags, result);
  return agreement.Agree() ? 0 : 1;
}

// The prefix cache across batches (model/prefix_cache.h) against none, in process: prompts behind a
// shared beginning scored one per batch, as a service sees them when each call brings one prompt.
// Every run scores new problems behind the same system prompt (or new hinted groups), so that only
// the shared beginning can come from the cache; medians of --runs, the features of each run's
// prompts compared between the two engines.
int PrefixCacheBenchmark(const Common& flags, const std::string& workload, int64_t cache_bytes) {
  std::unique_ptr<ScoringEngine> engines[2];
  for (int cached = 0; cached < 2; ++cached) {
    engines[cached] = LoadEngineOrSay(flags, [&](EngineOptions* options) {
      options->prefix_cache_bytes = cached ? cache_bytes : 0;
    });
    if (!engines[cached]) return 1;
  }
  const ScoringEngine& e = *engines[0];
  auto count_tokens = [&](const std::string& text) {
    return static_cast<int64_t>(Prepare(e, {text})[0].ids.size());
  };
  const FeatureRequest request = LastLayerBothPoolings(e);
  benchmark::MetricAgreement agreement;
  std::vector<double> seconds[2];
  int64_t tokens = 0;
  for (int r = 0; r <= flags.runs; ++r) {  // run 0 warms both engines up and fills the cache
    std::vector<PreparedPrompt> prepared =
        Prepare(e, benchmark::MakeWorkload(workload, flags.prompts, count_tokens, 42 + static_cast<uint32_t>(r)));
    Batches alone;
    for (const PreparedPrompt& p : prepared) alone.push_back({&p});
    std::vector<ScoredPrompt> features[2];
    for (int cached = 0; cached < 2; ++cached) {
      const double s = RunBatches(*engines[cached], alone, request, &features[cached]);
      if (r > 0) seconds[cached].push_back(s);
    }
    if (r == 0) continue;
    for (const PreparedPrompt& p : prepared) tokens += static_cast<int64_t>(p.ids.size());
    for (size_t i = 0; i < prepared.size(); ++i)
      for (size_t f = 0; f < features[0][i].features.size(); ++f)
        agreement.Add(features[0][i].features[f].metrics.data(), features[1][i].features[f].metrics.data(),
                      e.config().hidden_size);
  }
  const PrefixCacheStats stats = engines[1]->prefix_cache_stats();
  json result = {{"benchmark", "prefix-cache"}, {"model", flags.model}, {"workload", workload},
                 {"device", e.device().str()}, {"intra_op_threads", at::get_num_threads()},
                 {"prompts_per_run", flags.prompts}, {"runs", flags.runs},
                 {"tokens_per_run", tokens / std::max(1, flags.runs)}, {"cache_bytes", cache_bytes},
                 {"uncached_prompts_per_s", flags.prompts / Median(seconds[0])},
                 {"cached_prompts_per_s", flags.prompts / Median(seconds[1])},
                 {"cached_over_uncached", Median(seconds[0]) / Median(seconds[1])},
                 {"cache_hit_tokens", stats.hit_tokens}, {"cache_blocks", stats.blocks}, {"cache_bytes_held", stats.bytes},
                 {"largest_metric_difference", agreement.largest_difference},
                 {"heavy_tail_fraction_channels_moved", agreement.heavy_tail_channels},
                 {"features_agree", agreement.Agree()}};
  Emit(flags, result);
  return agreement.Agree() ? 0 : 1;
}

// Ranks of v, ties sharing their mean rank.
std::vector<double> Ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> ranks(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = (i + j) / 2.0;
    i = j + 1;
  }
  return ranks;
}

double Spearman(const std::vector<double>& x, const std::vector<double>& y) {
  const std::vector<double> rx = Ranks(x), ry = Ranks(y);
  const double n = static_cast<double>(x.size()), mean = (n - 1) / 2;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (rx[i] - mean) * (ry[i] - mean);
    sxx += (rx[i] - mean) * (rx[i] - mean);
    syy += (ry[i] - mean) * (ry[i] - mean);
  }
  return sxx > 0 && syy > 0 ? sxy / std::sqrt(sxx * syy) : 1.0;
}

// float32 against bfloat16 on one device: the same prompts, batches and features in both, medians
// of --runs. A metric's move is |bf16 - f32| over the metric's standard deviation across the prompts
// in float32: how much of the spread a predictor reads is noise bfloat16 adds.
int Dtypes(const Common& flags, int64_t token_budget) {
  std::unique_ptr<ScoringEngine> engines[2];
  const char* names[2] = {"float32", "bfloat16"};
  for (int i = 0; i < 2; ++i) {
    Common placed = flags;
    placed.dtype = names[i];
    engines[i] = LoadEngineOrSay(placed);
    if (!engines[i]) return 1;
  }
  const ScoringEngine& e = *engines[0];
  std::vector<PreparedPrompt> prepared = Prepare(e, MakePrompts(flags.prompts));
  std::sort(prepared.begin(), prepared.end(), [](const auto& a, const auto& b) { return a.ids.size() < b.ids.size(); });
  const Batches batches = CutInOrder(prepared, token_budget);
  const FeatureRequest request = LastLayerBothPoolings(e);
  std::vector<ScoredPrompt> scored[2];
  for (int i = 0; i < 2; ++i) RunBatches(*engines[i], batches, request, &scored[i]);  // warm-up, and the features
  std::vector<double> seconds[2], matmul[2];
  for (int r = 0; r < flags.runs; ++r)
    for (int i = 0; i < 2; ++i) {
      seconds[i].push_back(RunBatches(*engines[i], batches, request, nullptr));
      matmul[i].push_back(MatmulFlopsPerSecond(e.device(), engines[i]->dtype(), 3));
    }

  json moves = json::object();
  double worst_median_move = 0, worst_rank_correlation = 1;
  for (size_t f = 0; f < request.poolings.size(); ++f)
    for (int m = 0; m < kNumMetrics; ++m) {
      std::vector<double> x, y;
      for (size_t p = 0; p < prepared.size(); ++p) {
        x.push_back(scored[0][p].features[f].metrics[m]);
        y.push_back(scored[1][p].features[f].metrics[m]);
      }
      double mean = 0, variance = 0;
      for (double v : x) mean += v / x.size();
      for (double v : x) variance += (v - mean) * (v - mean) / x.size();
      std::vector<double> move;
      for (size_t p = 0; p < x.size(); ++p) move.push_back(std::abs(y[p] - x[p]) / std::max(std::sqrt(variance), 1e-12));
      const double median_move = Median(move), rank_correlation = Spearman(x, y);
      worst_median_move = std::max(worst_median_move, median_move);
      worst_rank_correlation = std::min(worst_rank_correlation, rank_correlation);
      moves[PoolingName(request.poolings[f])][kMetricNames[m]] = {
          {"median_move_over_spread", median_move},
          {"p90_move_over_spread", Percentile(move, 0.9)},
          {"rank_correlation", rank_correlation}};
    }
  const double f32 = Median(seconds[0]), bf16 = Median(seconds[1]);
  json result = {{"benchmark", "dtypes"}, {"model", flags.model}, {"device", e.device().str()},
                 {"intra_op_threads", at::get_num_threads()}, {"float32_blas", BlasKernels()},
                 {"prompts", flags.prompts}, {"runs", flags.runs}, {"float32_prompts_per_s", flags.prompts / f32}, {"bfloat16_prompts_per_s", flags.prompts / bf16},
                 {"bfloat16_over_float32", f32 / bf16},
                 {"matmul_float32_flops_per_s", Median(matmul[0])}, {"matmul_bfloat16_flops_per_s", Median(matmul[1])},
                 {"worst_median_move_over_spread", worst_median_move},
                 {"worst_rank_correlation", worst_rank_correlation}, {"metrics", moves}};
  Emit(flags, result);
  return 0;
}

int Main(int argc, char** argv) {
  CLI::App app{"sparsegate model core: P1, P4 and P5 measured in one process, and the parity dump"};
  app.require_subcommand(1);
  Common flags;
  int64_t token_budget = 8192;
  int samples = 8, max_new_tokens = 64;
  std::string ids_file, out;
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("--model", flags.model, "model directory")->required();
    cmd->add_option("--device", flags.device)->capture_default_str();
    cmd->add_option("--dtype", flags.dtype)->capture_default_str();
    cmd->add_option("--cpu-matmul", flags.cpu_matmul, "auto, blas or onednn (float32 on the CPU)")->capture_default_str();
    cmd->add_option("--runs", flags.runs)->capture_default_str();
    cmd->add_option("--json", flags.json_out, "also write the result here");
    cmd->add_option("--token-budget", token_budget)->capture_default_str();
  };
  CLI::App* forward = app.add_subcommand("forward", "P1 and P4 (in process)");
  common(forward);
  forward->add_option("--prompts", flags.prompts)->capture_default_str();
  forward->add_option("--ids-out", flags.ids_out, "write the prompts' token ids here (JSON)");
  CLI::App* generate = app.add_subcommand("generate", "P5");
  common(generate);
  generate->add_option("--prompts", flags.prompts)->capture_default_str();
  generate->add_option("--samples", samples)->capture_default_str();
  generate->add_option("--max-new-tokens", max_new_tokens)->capture_default_str();
  CLI::App* budget = app.add_subcommand("budget", "the worst case of the GPU's memory-bounded batch, run");
  common(budget);
  budget->add_option("--max-prompt-tokens", flags.max_prompt_tokens)->capture_default_str();
  std::string workload = "system";
  CLI::App* prefixes = app.add_subcommand("prefixes", "prefix sharing against none, in process");
  common(prefixes);
  prefixes->add_option("--prompts", flags.prompts)->capture_default_str();
  prefixes->add_option("--workload", workload, "plain, distinct, system or hinted (benchmark_prompts.h)")->capture_default_str();
  int64_t cache_bytes = int64_t{64} << 20;
  CLI::App* prefix_cache = app.add_subcommand("prefix-cache", "the prefix cache across batches against none, in process");
  common(prefix_cache);
  prefix_cache->add_option("--prompts", flags.prompts, "prompts per run, each scored alone")->capture_default_str();
  prefix_cache->add_option("--workload", workload, "system or hinted (benchmark_prompts.h)")->capture_default_str();
  prefix_cache->add_option("--cache-bytes", cache_bytes)->capture_default_str();
  CLI::App* dtypes = app.add_subcommand("dtypes", "float32 against bfloat16, in process");
  common(dtypes);
  dtypes->add_option("--prompts", flags.prompts)->capture_default_str();
  CLI::App* dump = app.add_subcommand("hidden", "every hidden state of a batch, for the parity check");
  common(dump);
  dump->add_option("--ids", ids_file, "JSON array of token id arrays")->required();
  dump->add_option("--out", out, "float32 output file")->required();
  CLI11_PARSE(app, argc, argv);
  at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  if (forward->parsed()) return Forward(flags, token_budget);
  if (prefixes->parsed()) return Prefixes(flags, workload, token_budget);
  if (prefix_cache->parsed()) return PrefixCacheBenchmark(flags, workload, cache_bytes);
  if (dtypes->parsed()) {
    if (flags.runs == 5) flags.runs = 3;
    return Dtypes(flags, token_budget);
  }
  if (budget->parsed()) {
    if (flags.max_prompt_tokens == 0) flags.max_prompt_tokens = 2048;
    return Budget(flags, token_budget);
  }
  if (generate->parsed()) {
    if (flags.prompts == 64) flags.prompts = 16;
    return GenerateCost(flags, samples, max_new_tokens, token_budget);
  }
  return Hidden(flags, ids_file, out);
}

}  // namespace
}  // namespace sparsegate

int main(int argc, char** argv) {
  sparsegate::PrepareCpuRuntime();  // as the sparsegate binary does, so that the figures are its own
  return sparsegate::Main(argc, argv);
}

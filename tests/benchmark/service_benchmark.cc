// Service throughput against raw in-process forward throughput on the same prompts, and against
// the strong Python peer; one short prompt's latency. One process, one machine.
//
//   service_benchmark --model DIR [--workload plain|distinct|system|hinted] [--prompts 128] [--runs 5]
//                     [--clients 4[,16,...]] [--per-request 16] [--latency-calls 200] [--peer HOST:PORT]
//
// raw:     the engine alone: prompts sorted by length, cut into batches under
//          the same token budget the server uses, one Run() per batch.
// service: the real gRPC server on a loopback port; `clients` threads send
//          requests of `per-request` prompts until all prompts are scored
//          (P2: --per-request 1 --clients 1,4,16,64).
// peer:    the same requests to tests/benchmark/python_peer/server.py; both services then get token
//          ids, and the features both return for the last token's last hidden state are compared.
// Workloads (benchmark_prompts.h): plain prompts, a shared 200-token system prompt, or each prompt
//          with three hinted variants (kept together in requests, as the Gate sends them).
// Each is repeated `runs` times per client count; the medians and their ratios are printed. With
//          --prefix-cache-bytes, every run brings new problems (the same for the three paths), so
//          that the cache holds only what prompts share (a system prompt), not the last run's prompts.
// latency (P4): one client sends one short prompt at a time to the idle server;
//          p50 and p99 over the calls after 20 warm-up calls.
#include <ATen/Parallel.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <thread>

#include "difficulty_service/core/engine/runtime.h"
#include "difficulty_service/core/engine/scoring_engine.h"
#include "difficulty_service/core/model/openmp_teams.h"
#include "difficulty_service/service/server/difficulty_server.h"
#include "sparsegate/v1/difficulty.grpc.pb.h"
#include "tests/benchmark/benchmark_prompts.h"
#include "tests/server/prometheus_text.h"

namespace sparsegate {
namespace {

using benchmark::Median;

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }



double RawRun(const ScoringEngine& engine, const std::vector<PreparedPrompt>& prepared, int64_t token_budget) {
  FeatureRequest request;
  request.layers = {static_cast<int>(engine.config().num_hidden_layers)};
  auto start = Clock::now();
  benchmark::ScoreInBatches(engine, prepared, token_budget, request);
  const double seconds = Seconds(start);
  // This thread's idle OpenMP team would slow the server's worker down (openmp_teams.h): a user's
  // process does not run both.
  ReleaseOpenMpTeamOfThisThread();
  return seconds;
}

// `ids`, when not empty, are sent as token ids instead of the texts (no tokenization on the server).
double ServiceRun(const std::string& address, const std::vector<std::string>& prompts,
                  const std::vector<PreparedPrompt>& ids, int clients, int per_request) {
  std::atomic<size_t> next{0};
  std::atomic<int> failures{0};
  auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      auto stub = v1::DifficultyService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
      for (;;) {
        size_t first = next.fetch_add(per_request);
        if (first >= prompts.size()) return;
        v1::ScoreRequest request;
        request.mutable_options()->set_truncation(v1::TRUNCATION_LEFT);
        for (size_t i = first; i < std::min(prompts.size(), first + per_request); ++i) {
          if (ids.empty()) {
            request.add_prompts()->set_text(prompts[i]);
          } else {
            auto* tokens = request.add_prompts()->mutable_tokens();
            for (int32_t id : ids[i].ids) tokens->add_ids(id);
          }
        }
        v1::ScoreResponse response;
        grpc::ClientContext context;
        if (!stub->Score(&context, request, &response).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  double seconds = Seconds(start);
  if (failures > 0) std::fprintf(stderr, "%d requests failed\n", failures.load());
  return seconds;
}

// Every prompt once, in requests of 16, sent as ids: the last token's metrics of the last layer.
std::vector<std::vector<float>> ScoreOnce(const std::string& address, const std::vector<PreparedPrompt>& ids) {
  auto stub = v1::DifficultyService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  std::vector<std::vector<float>> out;
  for (size_t first = 0; first < ids.size(); first += 16) {
    v1::ScoreRequest request;
    for (size_t i = first; i < std::min(ids.size(), first + 16); ++i) {
      auto* tokens = request.add_prompts()->mutable_tokens();
      for (int32_t id : ids[i].ids) tokens->add_ids(id);
    }
    v1::ScoreResponse response;
    grpc::ClientContext context;
    if (!stub->Score(&context, request, &response).ok()) return {};
    for (const auto& result : response.results()) {
      const google::protobuf::Message& metrics = result.features(0).metrics();
      const auto* descriptor = metrics.GetDescriptor();
      std::vector<float> values;
      for (int f = 0; f < descriptor->field_count(); ++f)
        values.push_back(metrics.GetReflection()->GetFloat(metrics, descriptor->field(f)));
      out.push_back(std::move(values));
    }
  }
  return out;
}

int Main(int argc, char** argv) {
  CLI::App app{"sparsegate service throughput vs raw forward throughput"};
  std::string model;
  int n = 128, runs = 5, per_request = 16, latency_calls = 200;
  std::vector<int> client_counts{4};
  int64_t token_budget = 8192;
  app.add_option("--model", model)->required();
  app.add_option("--prompts", n);
  app.add_option("--runs", runs);
  app.add_option("--clients", client_counts, "client threads; several (1,4,16,64) run one after another")->delimiter(',');
  app.add_option("--latency-calls", latency_calls, "P4: sequential one-prompt calls (0: skip)");
  std::string peer, workload = "plain";
  app.add_option("--peer", peer,
                 "P3: also drive this service of the same Score method (tests/benchmark/python_peer/server.py); "
                 "both then get token ids");
  app.add_option("--workload", workload, "plain, distinct, system or hinted (benchmark_prompts.h)")->capture_default_str();
  app.add_option("--per-request", per_request);
  app.add_option("--token-budget", token_budget);
  // Off unless asked, as the peer has none. When on, each run's prompts are new problems.
  int64_t prefix_cache_bytes = 0;
  app.add_option("--prefix-cache-bytes", prefix_cache_bytes, "the prefix cache of both sparsegate paths")
      ->capture_default_str();
  std::string cpu_matmul = "auto";
  app.add_option("--cpu-matmul", cpu_matmul, "auto, blas or onednn: the float32 products of both sparsegate paths")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  auto matmul = ParseCpuMatmul(cpu_matmul);
  if (!matmul.ok()) {
    std::fprintf(stderr, "%s\n", std::string(matmul.status().message()).c_str());
    return 2;
  }

  // The raw path runs on this thread: give it the threads the server's worker gets.
  at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  EngineOptions engine_options;
  engine_options.prefix_cache_bytes = prefix_cache_bytes;
  engine_options.cpu_matmul = *matmul;
  auto engine = ScoringEngine::Load(model, engine_options);
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", std::string(engine.status().message()).c_str());
    return 1;
  }
  auto count_tokens = [&](const std::string& text) {
    PromptInput input;
    input.text = text;
    return static_cast<int64_t>((*engine)->Prepare(input, /*truncate_left=*/true)->original_token_count);
  };
  struct PromptSet {
    std::vector<std::string> texts;
    std::vector<PreparedPrompt> prepared;
    int64_t tokens = 0;
  };
  auto make_set = [&](uint32_t seed) {
    PromptSet set;
    set.texts = benchmark::MakeWorkload(workload, n, count_tokens, seed);
    for (const auto& p : set.texts) {
      PromptInput input;
      input.text = p;
      // Left truncation, as core_benchmark: a prompt past the model's context keeps its end (and
      // loses part of a shared prefix); the texts sent to the service ask for it too.
      set.prepared.push_back(*(*engine)->Prepare(input, /*truncate_left=*/true));
      set.tokens += static_cast<int64_t>(set.prepared.back().ids.size());
    }
    return set;
  };
  const PromptSet first = make_set(42);
  const std::vector<std::string>& prompts = first.texts;
  const std::vector<PreparedPrompt>& prepared = first.prepared;
  const int64_t tokens = first.tokens;
  // The prompts of a timed run: the warm-up's without a prefix cache; with one, new ones each time.
  uint32_t next_seed = 43;
  PromptSet fresh;

  ServerOptions options;
  options.model_dir = model;
  options.address = "127.0.0.1:0";
  options.batcher.token_budget = token_budget;
  options.engine.prefix_cache_bytes = prefix_cache_bytes;
  options.engine.cpu_matmul = *matmul;
  auto server = DifficultyServer::Start(options);
  if (!server.ok() || !(*server)->WaitUntilReady().ok()) {
    std::fprintf(stderr, "server failed to start\n");
    return 1;
  }
  const std::string address = "127.0.0.1:" + std::to_string((*server)->port());

  std::printf("model %s, workload %s, %d prompts (%lld tokens, mean %.1f), %d runs, %d intra-op threads%s\n",
              model.c_str(), workload.c_str(), n, static_cast<long long>(tokens), static_cast<double>(tokens) / n, runs,
              at::get_num_threads(),
              prefix_cache_bytes > 0 ? ", prefix cache on (new problems in every run)" : "");
  RawRun(**engine, prepared, token_budget);  // warm-up both paths once
  const std::vector<PreparedPrompt> no_ids;
  const std::vector<PreparedPrompt>& sent_ids = peer.empty() ? no_ids : prepared;
  ServiceRun(address, prompts, sent_ids, client_counts.front(), per_request);
  if (!peer.empty()) {
    ServiceRun(peer, prompts, sent_ids, client_counts.front(), per_request);
    const auto mine = ScoreOnce(address, prepared), theirs = ScoreOnce(peer, prepared);
    benchmark::MetricAgreement agreement;
    for (size_t i = 0; i < mine.size() && i < theirs.size(); ++i)
      agreement.Add(mine[i].data(), theirs[i].data(), (*engine)->config().hidden_size);
    const bool agree = !mine.empty() && mine.size() == theirs.size() && agreement.Agree();
    std::printf("features, sparsegate against the peer: largest difference %.2g, heavy_tail_fraction within %lld "
                "channel(s), over %zu prompts: %s\n", agreement.largest_difference,
                static_cast<long long>(agreement.heavy_tail_channels), mine.size(), agree ? "they agree" : "THEY DISAGREE");
  }
  auto counters = [&] { return testing::ParsePrometheusText((*server)->metrics().Render()); };
  for (int clients : client_counts) {
    auto before = counters();
    std::vector<double> raw, service, other;
    for (int r = 0; r < runs; ++r) {
      const PromptSet& set = prefix_cache_bytes > 0 ? (fresh = make_set(next_seed++)) : first;
      const std::vector<PreparedPrompt>& ids = peer.empty() ? no_ids : set.prepared;
      raw.push_back(RawRun(**engine, set.prepared, token_budget));
      service.push_back(ServiceRun(address, set.texts, ids, clients, per_request));
      if (!peer.empty()) other.push_back(ServiceRun(peer, set.texts, ids, clients, per_request));
    }
    double raw_rate = n / Median(raw), service_rate = n / Median(service);
    std::printf("clients %3d x %3d prompts/request: raw %8.1f prompts/s (median %.3f s), service %8.1f prompts/s "
                "(median %.3f s), ratio service/raw %.3f\n",
                clients, per_request, raw_rate, Median(raw), service_rate, Median(service), service_rate / raw_rate);
    auto after = counters();
    auto delta = [&](const char* name) { return after[name] - before[name]; };
    std::printf("    server: %.0f forward passes, %.1f prompts per pass, padding %.1f%% of a padded layout "
                "(packed: not computed on the CPU), tokens computed %.1f%% (from the prefix cache %.1f%%), "
                "forward %.0f%% of the service's wall time\n",
                delta("sparsegate_batches_total"), delta("sparsegate_batch_prompts_sum") / delta("sparsegate_batches_total"),
                100 * (1 - delta("sparsegate_tokens_total") / delta("sparsegate_padded_tokens_total")),
                100 * delta("sparsegate_computed_tokens_total") / delta("sparsegate_tokens_total"),
                100 * delta("sparsegate_prefix_cache_hit_tokens_total") / delta("sparsegate_tokens_total"),
                100 * delta("sparsegate_forward_seconds_sum") / (runs * Median(service)));
    if (!peer.empty())
      std::printf("    peer %s: %8.1f prompts/s (median %.3f s), ratio service/peer %.2f\n", peer.c_str(),
                  n / Median(other), Median(other), Median(other) / Median(service));
  }
  if (latency_calls > 0) {
    auto stub = v1::DifficultyService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    v1::ScoreRequest request;
    request.add_prompts()->set_text("What is 12 + 7?");
    std::vector<double> latency;
    std::map<std::string, double> before;
    for (int i = 0; i < latency_calls + 20; ++i) {
      if (i == 20) before = counters();
      v1::ScoreResponse response;
      grpc::ClientContext context;
      auto start = Clock::now();
      if (!stub->Score(&context, request, &response).ok()) std::fprintf(stderr, "latency call %d failed\n", i);
      if (i >= 20) latency.push_back(1e3 * Seconds(start));
    }
    auto after = counters();
    auto mean_ms = [&](const std::string& name) {
      return 1e3 * (after[name + "_sum"] - before[name + "_sum"]) / (after[name + "_count"] - before[name + "_count"]);
    };
    double mean_call = 0;
    for (double ms : latency) mean_call += ms / static_cast<double>(latency.size());
    const double tokenize = mean_ms("sparsegate_tokenize_seconds"), queue = mean_ms("sparsegate_queue_seconds"),
                 forward = mean_ms("sparsegate_forward_seconds");
    std::printf("latency, one short prompt, idle (%d calls): p50 %.2f ms, p99 %.2f ms\n", latency_calls,
                benchmark::Percentile(latency, 0.5), benchmark::Percentile(latency, 0.99));
    std::printf("    where a call's time goes (means): tokenize %.3f ms, queue %.3f ms, forward and metrics %.3f ms, "
                "the rest (gRPC both ways, thread hand-offs, the client) %.3f ms of %.3f ms\n",
                tokenize, queue, forward, mean_call - tokenize - queue - forward, mean_call);
  }
  (*server)->Shutdown();
  return 0;
}

}  // namespace
}  // namespace sparsegate

int main(int argc, char** argv) {
  sparsegate::PrepareCpuRuntime();  // as the sparsegate binary does, so that the figures are its own
  return sparsegate::Main(argc, argv);
}

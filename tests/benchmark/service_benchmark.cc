// Service throughput against raw in-process forward throughput on the same
// prompts, in one process, on the same machine.
//
//   service_benchmark --model DIR [--prompts 128] [--runs 5] [--clients 4] [--per-request 16]
//
// raw:     the engine alone: prompts sorted by length, cut into batches under
//          the same token budget the server uses, one Run() per batch.
// service: the real gRPC server on a loopback port; `clients` threads send
//          requests of `per-request` prompts until all prompts are scored.
// Both are repeated `runs` times; the medians and their ratio are printed.
#include <ATen/Parallel.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "difficulty_service/engine/scoring_engine.h"
#include "difficulty_service/server/difficulty_server.h"
#include "sparsegate/v1/difficulty.grpc.pb.h"
#include "tests/benchmark/benchmark_prompts.h"

namespace sparsegate {
namespace {

using benchmark::MakePrompts;
using benchmark::Median;

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }



double RawRun(const ScoringEngine& engine, const std::vector<PreparedPrompt>& prepared, int64_t token_budget) {
  FeatureRequest request;
  request.layers = {static_cast<int>(engine.config().num_hidden_layers)};
  auto start = Clock::now();
  benchmark::ScoreInBatches(engine, prepared, token_budget, request);
  return Seconds(start);
}

double ServiceRun(const std::string& address, const std::vector<std::string>& prompts, int clients, int per_request) {
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
        for (size_t i = first; i < std::min(prompts.size(), first + per_request); ++i)
          request.add_prompts()->set_text(prompts[i]);
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

int Main(int argc, char** argv) {
  CLI::App app{"sparsegate service throughput vs raw forward throughput"};
  std::string model;
  int n = 128, runs = 5, clients = 4, per_request = 16;
  int64_t token_budget = 8192;
  app.add_option("--model", model)->required();
  app.add_option("--prompts", n);
  app.add_option("--runs", runs);
  app.add_option("--clients", clients);
  app.add_option("--per-request", per_request);
  app.add_option("--token-budget", token_budget);
  CLI11_PARSE(app, argc, argv);

  // The raw path runs on this thread: give it the threads the server's worker gets.
  at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  auto engine = ScoringEngine::Load(model);
  if (!engine.ok()) {
    std::fprintf(stderr, "%s\n", std::string(engine.status().message()).c_str());
    return 1;
  }
  std::vector<std::string> prompts = MakePrompts(n);
  std::vector<PreparedPrompt> prepared;
  int64_t tokens = 0;
  for (const auto& p : prompts) {
    PromptInput input;
    input.text = p;
    prepared.push_back(*(*engine)->Prepare(input, false));
    tokens += static_cast<int64_t>(prepared.back().ids.size());
  }

  ServerOptions options;
  options.model_dir = model;
  options.address = "127.0.0.1:0";
  options.batcher.token_budget = token_budget;
  auto server = DifficultyServer::Start(options);
  if (!server.ok() || !(*server)->WaitUntilReady().ok()) {
    std::fprintf(stderr, "server failed to start\n");
    return 1;
  }
  const std::string address = "127.0.0.1:" + std::to_string((*server)->port());

  RawRun(**engine, prepared, token_budget);  // warm-up both paths once
  ServiceRun(address, prompts, clients, per_request);
  std::vector<double> raw, service;
  for (int r = 0; r < runs; ++r) {
    raw.push_back(RawRun(**engine, prepared, token_budget));
    service.push_back(ServiceRun(address, prompts, clients, per_request));
  }
  double raw_rate = n / Median(raw), service_rate = n / Median(service);
  std::printf("model %s, %d prompts (%lld tokens, mean %.1f), %d runs, %d intra-op threads\n", model.c_str(), n,
              static_cast<long long>(tokens), static_cast<double>(tokens) / n, runs, at::get_num_threads());
  std::printf("raw forward   : %8.1f prompts/s  (median %.3f s)\n", raw_rate, Median(raw));
  std::printf("service (gRPC): %8.1f prompts/s  (median %.3f s, %d clients x %d prompts/request)\n", service_rate,
              Median(service), clients, per_request);
  std::printf("ratio service/raw: %.3f\n", service_rate / raw_rate);
  (*server)->Shutdown();
  return 0;
}

}  // namespace
}  // namespace sparsegate

int main(int argc, char** argv) { return sparsegate::Main(argc, argv); }

// What the benchmarks score, and how they summarize repeated runs: one definition, so that the
// service benchmark and the core benchmark measure the same prompts.
#ifndef SPARSEGATE_TESTS_BENCHMARK_BENCHMARK_PROMPTS_H_
#define SPARSEGATE_TESTS_BENCHMARK_BENCHMARK_PROMPTS_H_

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "difficulty_service/core/engine/scoring_engine.h"

namespace sparsegate::benchmark {

// Arithmetic word problems of mixed length, as an RL math dataset holds.
inline std::vector<std::string> MakePrompts(int n, uint32_t seed = 42) {
  std::mt19937 rng(seed);
  std::vector<std::string> prompts;
  for (int i = 0; i < n; ++i) {
    int steps = 1 + rng() % 8;
    std::string p = "Solve step by step and give the final answer.";
    for (int s = 0; s < steps; ++s)
      p += " Then add " + std::to_string(rng() % 100000) + " and multiply the result by " + std::to_string(rng() % 1000) + ".";
    prompts.push_back(p);
  }
  return prompts;
}

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The q-quantile (0.99: p99) of v, as the element at that rank.
inline double Percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

// The raw in-process path the service is measured against: prompts sorted by length and cut under
// the token budget (longest x prompts), one engine Run per batch.
inline void ScoreInBatches(const ScoringEngine& engine, const std::vector<PreparedPrompt>& prepared,
                           int64_t token_budget, const FeatureRequest& request) {
  std::vector<const PreparedPrompt*> order;
  for (const auto& p : prepared) order.push_back(&p);
  std::sort(order.begin(), order.end(), [](auto* a, auto* b) { return a->ids.size() < b->ids.size(); });
  for (size_t i = 0; i < order.size();) {
    std::vector<const PreparedPrompt*> batch;
    size_t longest = 0;
    while (i < order.size() &&
           std::max(longest, order[i]->ids.size()) * (batch.size() + 1) <= static_cast<size_t>(token_budget)) {
      longest = std::max(longest, order[i]->ids.size());
      batch.push_back(order[i++]);
    }
    if (batch.empty()) batch.push_back(order[i++]);
    std::vector<const FeatureRequest*> requests(batch.size(), &request);
    engine.Run(batch, requests);
  }
}

}  // namespace sparsegate::benchmark

#endif  // SPARSEGATE_TESTS_BENCHMARK_BENCHMARK_PROMPTS_H_

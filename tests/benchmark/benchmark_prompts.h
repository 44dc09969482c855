// What the benchmarks score, and how they summarize repeated runs: one definition, so that the
// service benchmark and the core benchmark measure the same prompts.
#ifndef SPARSEGATE_TESTS_BENCHMARK_BENCHMARK_PROMPTS_H_
#define SPARSEGATE_TESTS_BENCHMARK_BENCHMARK_PROMPTS_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "difficulty_service/core/engine/scoring_engine.h"
#include "difficulty_service/core/features/metric_list.h"

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

// The workloads the speed comparison runs (docs/speed.md):
//   plain     MakePrompts: no two prompts share more than their first sentence (which the small test
//             tokenizers spell in more than 16 tokens, so it is shared);
//   distinct  the same problems with the instruction moved to the end: no two prompts share 16
//             tokens, so no prefix is shared at all;
//   system    a system prompt of at least 200 tokens (count_tokens decides) before every problem, as a
//             chat template and instructions put before each RL prompt;
//   hinted    n / 4 problems, each followed by its three hinted variants (the problem with a longer
//             part of a worked solution after it), as the Gate scores a prompt's hint rungs together.
inline std::vector<std::string> MakeWorkload(const std::string& workload, int n,
                                             const std::function<int64_t(const std::string&)>& count_tokens,
                                             uint32_t seed = 42) {
  if (workload == "plain") return MakePrompts(n, seed);
  if (workload == "distinct") {
    const std::string instruction = "Solve step by step and give the final answer.";
    std::vector<std::string> prompts = MakePrompts(n, seed);
    for (std::string& p : prompts) p = "Add" + p.substr(instruction.size() + std::string(" Then add").size()) + " " + instruction;
    return prompts;
  }
  if (workload == "system") {
    std::string system = "You are a careful tutor for arithmetic. Read the problem, work through it one step at a "
                         "time, check each partial result, and end with the final answer on a line of its own.";
    for (int k = 1; count_tokens(system) < 200; ++k)
      system += " Rule " + std::to_string(k) + ": write every intermediate number in full and never skip a carry.";
    std::vector<std::string> prompts = MakePrompts(n, seed);
    for (std::string& p : prompts) p = system + "\n\n" + p;
    return prompts;
  }
  if (workload == "hinted") {
    std::vector<std::string> problems = MakePrompts((n + 3) / 4, seed), prompts;
    std::mt19937 rng(seed + 1);
    for (const std::string& problem : problems) {
      prompts.push_back(problem);
      std::string hint = "\nHint:";
      for (int rung = 1; rung <= 3 && static_cast<int>(prompts.size()) < n; ++rung) {
        for (int step = 0; step < 2; ++step)
          hint += " Step " + std::to_string(2 * rung + step - 1) + " gives " + std::to_string(rng() % 1000000) + ".";
        prompts.push_back(problem + hint);
      }
    }
    prompts.resize(std::min(prompts.size(), static_cast<size_t>(n)));
    return prompts;
  }
  throw std::invalid_argument("no workload " + workload + " (plain, distinct, system, hinted)");
}

// How far two computations' metrics of the same prompts are apart. heavy_tail_fraction counts the
// channels above a threshold, so a change in the last bits of one channel can move it by a whole
// channel (1 / d); it is compared in channels, the other metrics by value (relative above 1).
struct MetricAgreement {
  double largest_difference = 0;  // the continuous metrics
  int64_t heavy_tail_channels = 0;  // heavy_tail_fraction's largest move, in channels
  bool Agree() const { return largest_difference <= 1e-4 && heavy_tail_channels <= 1; }

  void Add(const float* a, const float* b, int64_t hidden_size) {
    for (int m = 0; m < kNumMetrics; ++m) {
      const double difference = std::abs(static_cast<double>(a[m]) - static_cast<double>(b[m]));
      if (static_cast<Metric>(m) == Metric::kHeavyTailFraction) {
        heavy_tail_channels =
            std::max(heavy_tail_channels, static_cast<int64_t>(std::llround(difference * static_cast<double>(hidden_size))));
      } else {
        largest_difference = std::max(largest_difference, difference / std::max(1.0, std::abs(static_cast<double>(a[m]))));
      }
    }
  }
};

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

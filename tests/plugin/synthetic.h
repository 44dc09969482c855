// Synthetic prompts for the plugin's tests: 14 sparsity-metric features plus a token count, and a
// true pass rate that depends (with noise) on two of the features and on length. The sign of the
// top10_energy effect is the opposite of the prior's default assumption ("sparser = harder"), as
// docs/api.md (The features) warns can happen, so the tests show the supervised model learning the real sign.
//
// Everything is a pure function of (seed, prompt index[, draw]) through MixHash64, so two runs of
// a test, or a run before and after a checkpoint, see exactly the same prompts and rewards.
#ifndef SPARSEGATE_TESTS_PLUGIN_SYNTHETIC_H_
#define SPARSEGATE_TESTS_PLUGIN_SYNTHETIC_H_

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "trainer_plugin/features.h"
#include "trainer_plugin/predictor/logistic_regression.h"
#include "trainer_plugin/stable_hash.h"

namespace sparsegate::plugin::testing {

inline double Uniform(uint64_t seed, uint64_t a, uint64_t b = 0) {
  return (static_cast<double>(MixHash64(MixHash64(seed, a), b) >> 11) + 0.5) / 9007199254740992.0;
}

inline double Normal(uint64_t seed, uint64_t a, uint64_t b = 0) {
  const double u1 = Uniform(seed, a, 2 * b), u2 = Uniform(seed, a, 2 * b + 1);
  return std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

inline FeatureSchema SyntheticSchema() { return FeatureSchema::ForFeatureSets({"layer4/last_token"}); }

struct SyntheticPrompt {
  std::string id;
  PromptFeatures features;
  double true_pass_rate = 0;
};

// Column indices in MetricNames() order.
constexpr int kHeavyTailColumn = 0;
constexpr int kTop10EnergyColumn = 3;

struct SyntheticWorld {
  uint64_t seed = 1;
  int hidden_size = 0;          // > 0: add a hidden vector carrying its own signal
  double metric_weight = 1.0;   // scales the two metric effects (0 with a hidden-only signal)
  double hidden_weight = 0.0;

  SyntheticPrompt Prompt(const std::string& prefix, uint64_t index) const {
    SyntheticPrompt p;
    p.id = prefix + std::to_string(index);
    const uint64_t key = StableHash64(p.id);
    const double log_length = 4.5 + 0.5 * Normal(seed, key, 100);
    p.features.token_count = static_cast<int32_t>(std::lround(std::exp(log_length)));
    std::vector<double> z(14);
    for (int j = 0; j < 14; ++j) z[j] = Normal(seed, key, j);
    // Metrics live on their natural scales; the model must standardise them.
    for (int j = 0; j < 14; ++j) p.features.metrics.push_back(static_cast<float>(0.3 + 0.05 * z[j]));
    double hidden_signal = 0;
    if (hidden_size > 0) {
      hidden_signal = Normal(seed, key, 200);
      for (int c = 0; c < hidden_size; ++c) {
        // Direction u: alternating signs over the first 32 channels, scaled to unit length.
        const double u = c < 32 ? (c % 2 ? 1.0 : -1.0) / std::sqrt(32.0) : 0.0;
        p.features.hidden.push_back(static_cast<float>(Normal(seed, key, 1000 + c) + 4.0 * u * hidden_signal));
      }
    }
    // The prompt's own difficulty (noise, sd 1) is as large as the features' effects: no model of
    // the features can rank perfectly, as with real prompts.
    const double logit = -0.6 + metric_weight * (1.0 * z[kTop10EnergyColumn] - 0.8 * z[kHeavyTailColumn]) -
                         0.5 * (log_length - 4.5) / 0.5 + hidden_weight * hidden_signal +
                         1.0 * Normal(seed, key, 300);
    p.true_pass_rate = Sigmoid(logit);
    return p;
  }

  // Rewards of `group_size` rollouts of a prompt on its `draw`-th appearance, each 0 or 1.
  std::vector<double> Rewards(const SyntheticPrompt& p, uint64_t draw, int group_size, double boost = 0) const {
    std::vector<double> rewards;
    const double pass = std::min(1.0, p.true_pass_rate + boost);
    for (int k = 0; k < group_size; ++k) {
      rewards.push_back(Uniform(seed + 7, StableHash64(p.id), draw * 1000 + k) < pass ? 1.0 : 0.0);
    }
    return rewards;
  }
};

inline int32_t CountSuccesses(const std::vector<double>& rewards) {
  int32_t s = 0;
  for (double r : rewards) s += r >= 0.5;
  return s;
}

}  // namespace sparsegate::plugin::testing

#endif  // SPARSEGATE_TESTS_PLUGIN_SYNTHETIC_H_

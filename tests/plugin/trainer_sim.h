// A small deterministic "trainer" for facade and checkpoint tests: 40 prompts (even ones with a
// reference solution), 16 per step, some with missing features (fail-open), rewards from the
// synthetic world with hints raising the pass rate, and an epoch every three steps. Also the
// plugin tests' scratch directory.
#ifndef SPARSEGATE_TESTS_PLUGIN_TRAINER_SIM_H_
#define SPARSEGATE_TESTS_PLUGIN_TRAINER_SIM_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/plugin/synthetic.h"
#include "trainer_plugin/plugin.h"

namespace sparsegate::plugin::testing {

inline const std::string& ReferenceSolution() {
  static const std::string text =
      "Let $n$ be the number of steps.\n"
      "We have \\[ S = \\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}. \\]\n"
      "Setting $S = 55$ gives $n(n+1) = 110$, so $n = 10$.\n"
      "Check: $1 + 2 + \\dots + 10 = 55$. The answer is $10$.";
  return text;
}

struct TrainerSim {
  SyntheticWorld world;
  int prompt_count = 40;
  int batch_size = 16;

  SyntheticPrompt PromptAt(int index) const { return world.Prompt("p", static_cast<uint64_t>(index)); }

  std::vector<int> Indices(int step) const {
    std::vector<int> indices;
    for (int k = 0; k < batch_size; ++k) indices.push_back((step * batch_size + k) % prompt_count);
    return indices;
  }

  std::vector<PromptInfo> Batch(int step) const {
    std::vector<PromptInfo> batch;
    for (int index : Indices(step)) {
      PromptInfo info;
      info.id = PromptAt(index).id;
      info.prompt = "Problem " + std::to_string(index) + ": how many steps sum to 55?";
      if (index % 2 == 0) info.reference_solution = ReferenceSolution();
      batch.push_back(info);
    }
    return batch;
  }

  std::vector<PromptFeatures> Features(int step) const {
    std::vector<PromptFeatures> features;
    for (int index : Indices(step)) {
      const bool missing = Uniform(99, static_cast<uint64_t>(step), static_cast<uint64_t>(index)) < 0.1;
      features.push_back(missing ? PromptFeatures{} : PromptAt(index).features);
    }
    return features;
  }

  // Observes every rolled-out decision of `step`.
  void ObserveAll(TrainerPlugin& plugin, int step, const std::vector<Decision>& decisions) const {
    const std::vector<int> indices = Indices(step);
    for (size_t i = 0; i < decisions.size(); ++i) {
      const Decision& d = decisions[i];
      if (d.kind != DecisionKind::kKeep && d.kind != DecisionKind::kGuide) continue;
      const std::vector<double> rewards = world.Rewards(PromptAt(indices[i]), step, 8, 0.8 * d.hint_fraction);
      ASSERT_TRUE(plugin.Observe(d.prompt_id, rewards).ok());
    }
  }

  std::vector<Decision> Decide(TrainerPlugin& plugin, int step) const {
    if (step % 3 == 0) {
      EXPECT_TRUE(plugin.BeginEpoch(step / 3).ok());
    }
    absl::StatusOr<std::vector<Decision>> decisions = plugin.Decide(Batch(step), Features(step));
    EXPECT_TRUE(decisions.ok()) << decisions.status();
    return decisions.ok() ? *decisions : std::vector<Decision>{};
  }

  std::vector<Decision> Step(TrainerPlugin& plugin, int step) const {
    std::vector<Decision> decisions = Decide(plugin, step);
    ObserveAll(plugin, step, decisions);
    return decisions;
  }
};

// Settings that let the supervised model take over within a short test run.
// A fresh directory under /tmp, removed with everything in it when the object goes.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/sparsegate_plugin_XXXXXX";
    path_ = ::mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline PluginConfig FastLearningConfig() {
  PluginConfig config;
  config.predictor.min_training_groups = 16;
  config.predictor.min_holdout_groups = 4;
  return config;
}

inline std::unique_ptr<TrainerPlugin> MakePlugin(PluginConfig config = FastLearningConfig()) {
  absl::StatusOr<std::unique_ptr<TrainerPlugin>> plugin = TrainerPlugin::Create(SyntheticSchema(), config);
  EXPECT_TRUE(plugin.ok()) << plugin.status();
  return plugin.ok() ? *std::move(plugin) : nullptr;
}

// Every field of a decision, with the prediction's bits, for exact comparison.
inline std::string Describe(const Decision& d) {
  char prediction[64] = "none";
  if (d.prediction) {
    std::snprintf(prediction, sizeof(prediction), "%a/%s", d.prediction->pass_rate,
                  std::string(PredictionSourceName(d.prediction->source)).c_str());
  }
  return d.prompt_id + "|" + std::string(DecisionKindName(d.kind)) + "|" + std::to_string(d.hint_level) + "|" +
         std::to_string(d.hint_fraction) + "|" + prediction + "|" + (d.fail_open ? "fail-open" : "") + "|" +
         d.reason + "|" + d.prompt_text;
}

inline std::vector<std::string> Describe(const std::vector<Decision>& decisions) {
  std::vector<std::string> out;
  for (const Decision& d : decisions) out.push_back(Describe(d));
  return out;
}

}  // namespace sparsegate::plugin::testing

#endif  // SPARSEGATE_TESTS_PLUGIN_TRAINER_SIM_H_

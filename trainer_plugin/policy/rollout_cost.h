// What one rollout of a prompt is expected to cost, in completion tokens: the quantity a rollout
// budget is spent in, and what Gate.select's 'signal_per_token' rule divides a prompt's chance of a
// group with signal by.
//
// A prompt rolled out before costs what its own unhinted groups cost (their mean completion
// length, older groups weighed down by `decay` per newer group, as the expected pass rate weighs
// outcomes). A new prompt costs what prompts of its length cost: a least-squares line of
// log(mean completion tokens) on log(prompt tokens) over every observed group, each observation
// fading by `kForget` per newer one so the line follows the policy as its answers grow or shrink.
// Before any outcome there is no estimate.
#ifndef SPARSEGATE_TRAINER_PLUGIN_POLICY_ROLLOUT_COST_H_
#define SPARSEGATE_TRAINER_PLUGIN_POLICY_ROLLOUT_COST_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"

namespace sparsegate::plugin {

struct PromptCost {
  double weight = 0;           // sum of the decayed group weights
  double mean_tokens = 0;      // weighted mean completion tokens per rollout
};

// Decayed sums of (x = log prompt tokens, y = log mean completion tokens) over observed groups.
struct LengthLine {
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
};

struct RolloutCostState {
  std::map<std::string, PromptCost> prompts;
  LengthLine line;
};

class RolloutCost {
 public:
  // An observation's weight in the length line after k newer ones is kForget^k (half-life about
  // 700 groups: a few dozen steps of a typical run).
  static constexpr double kForget = 1.0 - 1.0 / 1024;

  explicit RolloutCost(double decay = 0.75, RolloutCostState state = {});

  // One unhinted group: its prompt's length and its rollouts' mean completion length (> 0 tokens
  // each; 0 is counted as 1). InvalidArgument on a negative or non-finite length.
  absl::Status Observe(const std::string& prompt_id, int64_t prompt_tokens, double mean_completion_tokens);

  // Expected completion tokens per rollout of the prompt; nullopt before any observation.
  std::optional<double> Expected(const std::string& prompt_id, int64_t prompt_tokens) const;

  const RolloutCostState& state() const { return state_; }

 private:
  double decay_;
  RolloutCostState state_;
};

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_POLICY_ROLLOUT_COST_H_

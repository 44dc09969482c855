#include "trainer_plugin/policy/rollout_cost.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace sparsegate::plugin {

RolloutCost::RolloutCost(double decay, RolloutCostState state) : decay_(decay), state_(std::move(state)) {}

absl::Status RolloutCost::Observe(const std::string& prompt_id, int64_t prompt_tokens, double mean_completion_tokens) {
  if (!(mean_completion_tokens >= 0) || !std::isfinite(mean_completion_tokens)) {
    return absl::InvalidArgumentError(absl::StrCat("prompt '", prompt_id, "': mean completion length ",
                                                   mean_completion_tokens, " is not a token count"));
  }
  const double tokens = std::max(1.0, mean_completion_tokens);
  PromptCost& cost = state_.prompts[prompt_id];
  cost.weight = decay_ * cost.weight + 1;
  cost.mean_tokens += (tokens - cost.mean_tokens) / cost.weight;

  const double x = std::log(static_cast<double>(std::max<int64_t>(1, prompt_tokens))), y = std::log(tokens);
  LengthLine& l = state_.line;
  l.n = kForget * l.n + 1;
  l.sx = kForget * l.sx + x;
  l.sy = kForget * l.sy + y;
  l.sxx = kForget * l.sxx + x * x;
  l.sxy = kForget * l.sxy + x * y;
  return absl::OkStatus();
}

std::optional<double> RolloutCost::Expected(const std::string& prompt_id, int64_t prompt_tokens) const {
  if (auto it = state_.prompts.find(prompt_id); it != state_.prompts.end()) return it->second.mean_tokens;
  const LengthLine& l = state_.line;
  if (l.n <= 0) return std::nullopt;
  const double mean_x = l.sx / l.n, mean_y = l.sy / l.n;
  const double var_x = l.sxx / l.n - mean_x * mean_x;
  // One prompt length so far (or lengths that barely differ): the mean cost, whatever the length.
  if (!(var_x > 1e-9)) return std::exp(mean_y);
  const double slope = (l.sxy / l.n - mean_x * mean_y) / var_x;
  const double x = std::log(static_cast<double>(std::max<int64_t>(1, prompt_tokens)));
  return std::exp(mean_y + slope * (x - mean_x));
}

}  // namespace sparsegate::plugin

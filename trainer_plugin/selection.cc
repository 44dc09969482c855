#include "trainer_plugin/selection.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sparsegate::plugin {

std::vector<size_t> SelectNearestPassRate(const std::vector<Decision>& decisions, size_t count, double target) {
  std::vector<size_t> candidates;
  for (size_t i = 0; i < decisions.size(); ++i) {
    const DecisionKind kind = decisions[i].kind;
    if (kind == DecisionKind::kKeep || kind == DecisionKind::kGuide) candidates.push_back(i);
  }
  auto distance = [&](size_t i) {
    const auto& p = decisions[i].expected_pass_rate;
    return p && std::isfinite(*p) ? std::abs(*p - target) : std::numeric_limits<double>::infinity();
  };
  std::stable_sort(candidates.begin(), candidates.end(), [&](size_t a, size_t b) { return distance(a) < distance(b); });
  if (candidates.size() > count) candidates.resize(count);
  std::sort(candidates.begin(), candidates.end());
  return candidates;
}

}  // namespace sparsegate::plugin

#include "trainer_plugin/selection.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <utility>

namespace sparsegate::plugin {

namespace {

// The candidates decided KEEP or GUIDE, ranked by `score` ascending (infinity last), the first
// `count` of them, in input order.
template <typename Score>
std::vector<size_t> ChooseLowest(const std::vector<Decision>& decisions, size_t count, Score score) {
  std::vector<size_t> candidates;
  std::vector<double> scores(decisions.size(), std::numeric_limits<double>::infinity());
  for (size_t i = 0; i < decisions.size(); ++i) {
    const DecisionKind kind = decisions[i].kind;
    if (kind != DecisionKind::kKeep && kind != DecisionKind::kGuide) continue;
    candidates.push_back(i);
    const double s = score(decisions[i]);
    if (std::isfinite(s)) scores[i] = s;
  }
  std::stable_sort(candidates.begin(), candidates.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  if (candidates.size() > count) candidates.resize(count);
  std::sort(candidates.begin(), candidates.end());
  return candidates;
}

constexpr double kUnranked = std::numeric_limits<double>::infinity();

}  // namespace

std::vector<size_t> SelectNearestPassRate(const std::vector<Decision>& decisions, size_t count, double target) {
  return ChooseLowest(decisions, count, [&](const Decision& d) {
    return d.expected_pass_rate ? std::abs(*d.expected_pass_rate - target) : kUnranked;
  });
}

std::vector<size_t> SelectCandidates(const std::vector<Decision>& decisions, size_t count,
                                     const SelectionOptions& options, std::mt19937_64* rng) {
  switch (options.rule) {
    case SelectionRule::kNearestTarget:
      return SelectNearestPassRate(decisions, count, options.target);
    case SelectionRule::kSignalProbability:
      return ChooseLowest(decisions, count, [&](const Decision& d) {
        return d.pass_rate_posterior ? -d.pass_rate_posterior->SignalProbability(options.group_size) : kUnranked;
      });
    case SelectionRule::kSignalPerToken: {
      std::vector<double> costs;
      for (const Decision& d : decisions) {
        if (d.expected_completion_tokens) costs.push_back(*d.expected_completion_tokens);
      }
      double fallback = 1;
      if (!costs.empty()) {
        std::nth_element(costs.begin(), costs.begin() + costs.size() / 2, costs.end());
        fallback = costs[costs.size() / 2];
      }
      return ChooseLowest(decisions, count, [&](const Decision& d) {
        if (!d.pass_rate_posterior) return kUnranked;
        const double cost = std::max(1.0, d.expected_completion_tokens.value_or(fallback));
        return -d.pass_rate_posterior->SignalProbability(options.group_size) / cost;
      });
    }
    case SelectionRule::kThompson:
      // Draws are made in input order, one per ranked candidate, so a seeded engine gives the same
      // choice for the same batch.
      return ChooseLowest(decisions, count, [&](const Decision& d) {
        return d.pass_rate_posterior ? std::abs(d.pass_rate_posterior->Sample(*rng) - options.target) : kUnranked;
      });
  }
  return {};
}

std::vector<int> AllocateGroupSizes(const std::vector<PassRatePosterior>& posteriors, int64_t total, int min_size,
                                    int max_size) {
  std::vector<int> sizes(posteriors.size(), min_size);
  int64_t left = total - static_cast<int64_t>(min_size) * static_cast<int64_t>(posteriors.size());
  // (gain of one more rollout, prompt); ties go to the earlier prompt.
  auto gain = [&](size_t i) {
    return posteriors[i].SignalProbability(sizes[i] + 1) - posteriors[i].SignalProbability(sizes[i]);
  };
  auto later = [](const std::pair<double, size_t>& a, const std::pair<double, size_t>& b) {
    return a.first < b.first || (a.first == b.first && a.second > b.second);
  };
  std::priority_queue<std::pair<double, size_t>, std::vector<std::pair<double, size_t>>, decltype(later)> next(later);
  for (size_t i = 0; i < posteriors.size(); ++i) {
    if (sizes[i] < max_size) next.push({gain(i), i});
  }
  while (left > 0 && !next.empty()) {
    const size_t i = next.top().second;
    next.pop();
    ++sizes[i];
    --left;
    if (sizes[i] < max_size) next.push({gain(i), i});
  }
  return sizes;
}

}  // namespace sparsegate::plugin

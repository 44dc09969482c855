#include "trainer_plugin/policy/pass_rate_posterior.h"

#include <algorithm>

namespace sparsegate::plugin {

double PassRatePosterior::Variance() const {
  const double n = alpha + beta;
  return alpha * beta / (n * n * (n + 1));
}

double PassRatePosterior::SignalProbability(int group_size) const {
  // E[p^G] = B(alpha + G, beta) / B(alpha, beta) = prod_{i < G} (alpha + i) / (alpha + beta + i),
  // a product of G factors in (0, 1): no overflow, no gamma functions.
  double all_pass = 1;
  double all_fail = 1;
  for (int i = 0; i < group_size; ++i) {
    all_pass *= (alpha + i) / (alpha + beta + i);
    all_fail *= (beta + i) / (alpha + beta + i);
  }
  return std::max(0.0, 1 - all_pass - all_fail);
}

double PassRatePosterior::Sample(std::mt19937_64& rng) const {
  // Beta from two gammas: X / (X + Y) with X ~ Gamma(alpha), Y ~ Gamma(beta).
  const double x = std::gamma_distribution<double>(alpha, 1.0)(rng);
  const double y = std::gamma_distribution<double>(beta, 1.0)(rng);
  return x + y > 0 ? x / (x + y) : Mean();
}

PassRatePosterior PosteriorFrom(double prior_mean, double prior_rollouts, double successes, double trials) {
  const double mean = std::clamp(prior_mean, 1e-3, 1 - 1e-3);
  const double weight = std::max(prior_rollouts, 1e-3);
  const double failures = std::max(0.0, trials - successes);
  return PassRatePosterior{weight * mean + std::max(0.0, successes), weight * (1 - mean) + failures};
}

}  // namespace sparsegate::plugin

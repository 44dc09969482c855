// A Beta belief about one prompt's pass rate under the current policy: what a decision knows and
// how sure it is. Beta(alpha, beta) is the posterior of a pass rate whose prior is worth
// `prior_rollouts` rollouts at `prior_mean`, after `successes` of `trials` rollouts were seen.
//
// SignalProbability(G) is the chance that a group of G rollouts holds both a success and a failure,
// E[1 - p^G - (1 - p)^G], the only groups a group-normalised advantage (GRPO, DAPO) learns from.
// Unlike the distance of the mean from 0.5, it rewards uncertainty: a prompt whose pass rate is
// anywhere in (0, 1) with equal odds has signal 7/9 at G = 8, while one known to sit at 0.98 has
// about 0.15.
#ifndef SPARSEGATE_TRAINER_PLUGIN_POLICY_PASS_RATE_POSTERIOR_H_
#define SPARSEGATE_TRAINER_PLUGIN_POLICY_PASS_RATE_POSTERIOR_H_

#include <random>

namespace sparsegate::plugin {

struct PassRatePosterior {
  double alpha = 1;  // > 0
  double beta = 1;   // > 0

  double Mean() const { return alpha / (alpha + beta); }
  double Variance() const;
  // E[1 - p^G - (1 - p)^G] under Beta(alpha, beta), exactly. `group_size` >= 1 (1 gives 0).
  double SignalProbability(int group_size) const;
  // One draw of p (Thompson sampling).
  double Sample(std::mt19937_64& rng) const;
};

// The posterior after `successes` of `trials` (fractional when older groups are weighed down) on
// a prior worth `prior_rollouts` at `prior_mean`. The prior mean is kept inside [1e-3, 1 - 1e-3] and
// the prior's weight at 1e-3 or more, so that the Beta stays proper when a prediction is 0 or 1
// and nothing has been seen.
PassRatePosterior PosteriorFrom(double prior_mean, double prior_rollouts, double successes, double trials);

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_POLICY_PASS_RATE_POSTERIOR_H_

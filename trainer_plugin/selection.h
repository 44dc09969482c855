// Choosing which prompts of an oversampled candidate batch to roll out, as Prompt Curriculum
// Learning does (arXiv 2510.01135) with its value model, here with the plugin's own expectations:
// of the candidates decided KEEP or GUIDE, the `count` whose expected pass rate (Decision::
// expected_pass_rate) is nearest `target`. At 0.5 a group's reward variance p(1 - p), and with
// it the expected size of its group-normalised gradient, peaks; a prompt expected at 0 or 1 is a
// group of equal rewards, which GRPO learns nothing from.
//
// PCL has no public code to follow (searched twice; scripts/rl/PEERS.md, section 4): this follows
// the paper's description (a pool of k x m prompts, the m predicted nearest 0.5, greedily); the
// testbed's k = 4 is its own choice, not the paper's.
//
// Candidates with an expected pass rate come first, nearest first; those without one follow in
// input order; ties keep input order. DROP and DEFER are never chosen. Fewer than `count` come
// back when fewer were decided KEEP or GUIDE: the trainer draws more candidates.
#ifndef SPARSEGATE_TRAINER_PLUGIN_SELECTION_H_
#define SPARSEGATE_TRAINER_PLUGIN_SELECTION_H_

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "trainer_plugin/plugin.h"

namespace sparsegate::plugin {

// Indices into `decisions` of the chosen candidates, in input order.
std::vector<size_t> SelectNearestPassRate(const std::vector<Decision>& decisions, size_t count, double target = 0.5);

// The other ways to rank candidates, all on Decision::pass_rate_posterior (candidates without one
// rank last, in input order, as above):
//   kNearestTarget      SelectNearestPassRate: the posterior's mean nearest `target`.
//   kSignalProbability  the largest chance that a group of `group_size` rollouts has signal
//                       (PassRatePosterior::SignalProbability): an uncertain prompt outranks one
//                       known to be easy or hopeless, and a prompt's long all-pass streak sinks it.
//   kThompson           one draw per candidate from its posterior, nearest `target` (MoPPS's
//                       choice among candidates, on the plugin's posterior): uncertain prompts
//                       get explored in proportion to their chance of being near the target.
//   kSignalPerToken     kSignalProbability divided by Decision::expected_completion_tokens: the
//                       chance of signal per rollout token, for a budget spent in tokens. A
//                       candidate without a cost estimate is taken at the median of the others'
//                       (at 1 when none has one, which is kSignalProbability).
enum class SelectionRule { kNearestTarget, kSignalProbability, kThompson, kSignalPerToken };

struct SelectionOptions {
  SelectionRule rule = SelectionRule::kNearestTarget;
  double target = 0.5;  // kNearestTarget and kThompson
  int group_size = 8;   // kSignalProbability and kSignalPerToken; and the mean group size below
  // For trainers that allow a group size per prompt: when set, the chosen candidates share
  // count x group_size rollouts as AllocateGroupSizes divides them (Decision::recommended_group_size).
  bool vary_group_size = false;
  int min_group_size = 2;   // a group of one has no variance
  int max_group_size = 32;
};

// Divides `total` rollouts among prompts whose beliefs are `posteriors`, each between `min_size`
// and `max_size`, so that the expected number of groups with signal, the sum of
// SignalProbability(G_i), is largest: every prompt starts at min_size, and each further rollout
// goes to the prompt whose chance of signal it raises most (exact, because each chance is concave
// in G). A prompt near 0.5 and known to be there saturates after a few rollouts; an uncertain or
// lopsided one gains from more; one known to be hopeless or trivial gains little from any. The
// sizes sum to `total` when min_size x n <= total <= max_size x n, and come as close as the bounds
// allow otherwise.
std::vector<int> AllocateGroupSizes(const std::vector<PassRatePosterior>& posteriors, int64_t total, int min_size,
                                    int max_size);

// `rng` is drawn from by kThompson only (required then).
std::vector<size_t> SelectCandidates(const std::vector<Decision>& decisions, size_t count,
                                     const SelectionOptions& options, std::mt19937_64* rng = nullptr);

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_SELECTION_H_

// Policy decides, before rollout, what to do with each prompt, and learns from each group's
// rewards after rollout. It keeps one PromptHistory per prompt; nothing else.
//
// Decisions:
//   KEEP         roll the prompt out as given.
//   GUIDE(level) roll it out with the first hint_ladder[level - 1] of its reference solution.
//   DROP         skip it: quarantined, or predicted near-impossible with no reference to guide with.
//   DEFER        skip it for now: trivially easy (only when enable_defer).
// Every decision carries a reason a person can read in a log.
//
// After rollout, Observe(prompt, rewards of the G rollouts), success meaning reward >=
// success_threshold, moves the prompt's rung on the hint ladder:
//   - no success: up one rung. At the top rung, the prompt is quarantined: DROP for the next
//     quarantine_epochs epochs, then re-checked at the top rung (the last thing we know is that it
//     failed with the most help we give; starting lower would repeat known failures).
//   - some success: the rung holds; after step_down_after_successes such groups in a row it steps
//     down one rung, so the help fades as the policy learns.
//   - every rollout succeeded, without a hint: counts toward DEFER (when enabled): after
//     defer_after_all_pass_groups such groups in a row the prompt is deferred for defer_epochs.
//   - no reference solution: there is no ladder, only KEEP or DROP; the prompt is quarantined after
//     no_reference_quarantine_after groups in a row with no success.
// Unlike GHPO, which climbs the ladder with extra rollout rounds inside one step and forgets it
// afterwards, the ladder here is per prompt and persists across epochs. A trainer that wants
// GHPO's in-step retries calls Observe and then Decide again for the same prompt: the rung has
// already risen.
//
// Before the first outcome, the predicted pass rate picks the starting point: with a reference,
// the starting rung is the number of start_rung_below thresholds the prediction is under (GHPO
// always starts at rung 0 and pays for the climb); with no reference, below drop_below is DROP;
// above defer_above is DEFER when enabled. Until the first outcome arrives each Decide re-reads
// the newest prediction, so the starting rung follows the predictor as it learns. A prediction
// from the unsupervised prior may start a prompt guided (cheap to undo: the ladder steps down)
// but never drops or defers it unless prior_may_drop_or_defer, because the prior is a weak,
// uncalibrated guess.
//
// With rungs_by_prediction and a pass rate predicted for every rung, the rung of a prompt with a
// reference is chosen anew at each Decide from those predictions and the prompt's own groups at
// each rung (PolicyConfig::rungs_by_prediction), so a prompt predicted to need 75% of the reference
// gets it at once. The ladder's other rules stay: an all-zero group at the top rung quarantines.
//
// Observe takes a group to have been rolled out at the rung of the prompt's last decision (the
// GUIDE rung; 0 for any other decision), and applies the ladder rules only when that is the
// prompt's current rung. A group rolled out elsewhere (after a fail-open KEEP of a guided prompt,
// or a quarantined prompt rolled out by a trainer that ignored the DROP) is counted but does not
// move the ladder: it was no test of it.
//
// ExpectedPassRate says what pass rate a decided rollout is expected to have, for selection
// (selection.h): a Beta posterior whose prior is worth expectation_prior_rollouts rollouts and
// whose evidence is the prompt's own recent groups at the decided rung. The prior of an unhinted
// rollout is the prediction; that of a hinted one is the pass rate of every prompt's groups at that
// rung so far, because whether a hint rescues a failing prompt is mostly a property of the ladder
// and the model (on a model that cannot continue a trace, no hint helps any prompt), which one
// prompt's two or three groups cannot show. Before any group at the rung, the prediction stands.
//
// Not thread-safe; the facade serialises calls.
#ifndef SPARSEGATE_TRAINER_PLUGIN_POLICY_POLICY_H_
#define SPARSEGATE_TRAINER_PLUGIN_POLICY_POLICY_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer_plugin/policy/pass_rate_posterior.h"
#include "trainer_plugin/predictor/prediction.h"

namespace sparsegate::plugin {

enum class DecisionKind { kKeep = 0, kGuide = 1, kDrop = 2, kDefer = 3 };
constexpr int kDecisionKindCount = 4;
std::string_view DecisionKindName(DecisionKind kind);  // "keep", "guide", "drop", "defer"
std::optional<DecisionKind> DecisionKindFromName(std::string_view name);

enum class FailOpenMode {
  kKeep,       // no features: KEEP, always. Training never waits and never loses a prompt.
  kLastKnown,  // no features: decide from the prompt's history and its last prediction (KEEP if none)
};

struct PolicyConfig {
  // Fractions of the reference solution shown at rungs 1..n (GHPO's 25%, 50%, 75%). Increasing,
  // each in (0, 1].
  std::vector<double> hint_ladder = {0.25, 0.5, 0.75};
  // A rollout succeeds when its reward >= this. 0.5 makes 0/1 verifiable rewards work as they are
  // and counts partial-credit rewards of at least half; GHPO counts any reward > 0.
  double success_threshold = 0.5;
  // Two successful groups in a row at a rung before stepping down: one group with a success is
  // common by luck on a hard prompt (at p = 0.1 and G = 8, 57% of groups have one); two in a row
  // is evidence the rung is learned.
  int step_down_after_successes = 2;
  // A prompt that fails at the top rung skips the next two epochs: long enough for the policy to
  // change, short enough that a prompt is not lost for the run.
  int quarantine_epochs = 2;
  // No reference means no ladder; two groups in a row with no success (where a ladder would have
  // had two rungs of help) before quarantine.
  int no_reference_quarantine_after = 2;
  // Predicted pass rate below which a prompt with no reference is dropped before any rollout. At
  // p = 0.02 and G = 8 rollouts, 85% of groups would have no success and give no gradient.
  double drop_below = 0.02;
  // Predicted pass rate below which even a prompt with a reference is dropped before any rollout,
  // rather than started high on the ladder. 0 (the default) never does: in training the ladder and
  // quarantine find out cheaply. Offline filtering, which sees no rollouts, sets it.
  double drop_hopeless_below = 0.0;
  // Predicted pass rate thresholds for the starting rung, one per rung, decreasing: below 0.10
  // (43% of G = 8 groups would be all-zero) start at rung 1, below 0.03 (78%) at rung 2, below 0.01
  // (92%) at rung 3. Must have one entry per ladder rung.
  std::vector<double> start_rung_below = {0.10, 0.03, 0.01};
  // DEFER is off by default: dynamic sampling (DAPO) already discards all-pass groups after
  // rollout, and skipping a prompt before rollout on a prediction risks missing that it has
  // become hard again.
  bool enable_defer = false;
  // Above this predicted pass rate, DEFER (when enabled): at p = 0.97 and G = 8, 78% of groups would
  // pass entirely and carry no gradient.
  double defer_above = 0.97;
  int defer_after_all_pass_groups = 2;
  int defer_epochs = 1;
  bool prior_may_drop_or_defer = false;
  FailOpenMode fail_open = FailOpenMode::kKeep;
  // The prior's weight in ExpectedPassRate, in rollouts: one group's worth at G = 8, so that one
  // all-pass group of a prompt predicted at 0.5 reads 0.75, not 1 (at p = 0.8, 17% of groups of 8
  // pass entirely by luck), and three such groups in a row read 0.85.
  double expectation_prior_rollouts = 8;
  // Each newer group at the rung weighs the prompt's older ones by this factor (in (0, 1]): the
  // policy changes every step, so a group from many steps ago says less about the next one. At
  // 0.75 the evidence is worth at most four groups.
  double expectation_decay = 0.75;
  // Weigh the prior of Decision::pass_rate_posterior by the predictor's measured held-out quality
  // (2 x AUROC - 1 of the model that made the prediction, at least 1/8; 1/8 while unmeasured), so
  // that a poor predictor counts for little against a prompt's own groups. Off by default: the
  // RL testbed measures whether it helps (docs/rl_testbed.md). ExpectedPassRate is unchanged.
  bool expectation_prior_by_quality = false;
  // Hint rungs chosen by prediction (off by default; docs/plugin.md, "Rungs chosen by
  // prediction"). When Decide gets a pass rate predicted for every rung (the hinted variants,
  // scored by the service in the same call as the prompt and read by the supervised model, which
  // then also learns from hinted groups with the hint's fraction as an input), a prompt with a
  // reference goes out at the smallest rung whose expected pass rate lies in [rung_band_low,
  // rung_band_high], or at the rung nearest the band when none lies in it, instead of climbing the
  // ladder one all-zero group at a time. A rung's expected pass rate is the prompt's own groups at
  // that rung on a prior worth expectation_prior_rollouts rollouts: the largest prediction at that
  // rung or below it, since a hint is assumed never to make a prompt harder.
  bool rungs_by_prediction = false;
  // At G = 8 a group holds a success and a failure with probability at least 0.83 anywhere in
  // [0.2, 0.8]; a smaller rung inside the band is preferred because a hinted group trains the
  // policy on text it would not write itself.
  double rung_band_low = 0.2;
  double rung_band_high = 0.8;
};

absl::Status ValidatePolicyConfig(const PolicyConfig& config);

struct PolicyDecision {
  DecisionKind kind = DecisionKind::kKeep;
  int32_t hint_level = 0;    // the rung used: 0 unless GUIDE
  double hint_fraction = 0;  // hint_ladder[hint_level - 1], 0 unless GUIDE
  std::string reason;
  // Set when the rung was chosen by prediction (PolicyConfig::rungs_by_prediction): the prior of the
  // decided rung's expected pass rate, and every rung's expected pass rate (index 0: unhinted).
  std::optional<double> rung_prior;
  std::vector<double> rung_pass_rates;
};

// Everything the policy knows about one prompt.
struct PromptHistory {
  bool has_reference = false;       // as reported by the latest Decide
  int32_t hint_level = 0;           // the prompt's rung: 0 = no hint, 1..n = hint_ladder[level - 1]
  int32_t successes_at_level = 0;   // groups in a row with a success at hint_level
  int32_t zero_groups_in_a_row = 0;
  int32_t all_pass_groups_in_a_row = 0;  // unhinted groups where every rollout succeeded
  std::optional<int64_t> quarantined_until_epoch;  // DROP while epoch < this
  std::optional<int64_t> deferred_until_epoch;     // DEFER while epoch < this
  int64_t groups = 0;  // observed groups, successes and rollouts in total
  int64_t successes = 0;
  int64_t trials = 0;
  int32_t last_group_level = 0;  // the last observed group: its rung and result
  int32_t last_group_successes = 0;
  int32_t last_group_trials = 0;
  // Successes and rollouts of the groups observed at hint_level since the prompt reached it, older
  // groups weighed down by expectation_decay: ExpectedPassRate's evidence.
  double level_successes = 0;
  double level_trials = 0;
  // Successes and rollouts of the prompt's groups at every rung (index 0: unhinted), each older
  // group at a rung weighed down by expectation_decay: the evidence of rungs chosen by prediction.
  // Empty until the first group.
  std::vector<double> rung_evidence_successes;
  std::vector<double> rung_evidence_trials;
  std::optional<DecisionKind> last_decision;  // what the rollouts now under way were told
  int32_t last_decision_level = 0;
  std::optional<Prediction> last_prediction;
};

struct PolicyState {
  int64_t epoch = 0;
  std::map<std::string, PromptHistory> prompts;
  // Successes and rollouts of every observed group by the rung it was rolled out at (index 0:
  // unhinted), over all prompts: the prior of a hinted rollout's expected pass rate.
  std::vector<int64_t> rung_successes;
  std::vector<int64_t> rung_trials;
};

// What one observed group was, for the caller's bookkeeping.
struct GroupOutcome {
  int32_t successes = 0;
  int32_t trials = 0;
  int32_t rollout_level = 0;  // the rung the group was rolled out at
  std::optional<Prediction> prediction;  // the last prediction made for the prompt
};

class Policy {
 public:
  static absl::StatusOr<Policy> Create(PolicyConfig config, PolicyState state = {});

  // `rung_predictions`: when the caller has them (PolicyConfig::rungs_by_prediction), the pass rate
  // predicted for the prompt at every rung, index 0 unhinted; otherwise empty.
  PolicyDecision Decide(const std::string& prompt_id, bool has_reference, const Prediction& prediction,
                        const std::vector<double>& rung_predictions = {});
  // The fail-open entry point, for prompts the service gave no features for (see FailOpenMode).
  PolicyDecision DecideWithoutFeatures(const std::string& prompt_id, bool has_reference);

  // The rollouts of the prompt's last GUIDE decision go out without the hint after all (it did not
  // fit the trainer's prompt-length budget): their group is observed as unhinted, and the rung
  // stays where it is, since it was not tried.
  void WithholdHint(const std::string& prompt_id);

  // `rewards` holds the G rollouts' rewards, each in [0, 1].
  absl::StatusOr<GroupOutcome> Observe(const std::string& prompt_id, const std::vector<double>& rewards);

  // The pass rate a rollout decided `decision` is expected to have (see the top of this file).
  double ExpectedPassRate(const std::string& prompt_id, const PolicyDecision& decision,
                          const Prediction& prediction) const;
  // ExpectedPassRate with its spread, from one look-up: the Beta posterior on the same prior and
  // evidence, the prior worth expectation_prior_rollouts x `prior_weight` rollouts (the caller's
  // trust in the prediction, in (0, 1]). The posterior's mean is `expected` when prior_weight is 1,
  // except that the prior is kept inside (0, 1) (pass_rate_posterior.h).
  struct Belief {
    double expected = 0;
    PassRatePosterior posterior;
  };
  Belief BeliefOf(const std::string& prompt_id, const PolicyDecision& decision, const Prediction& prediction,
                  double prior_weight = 1) const;

  // Epochs never go backwards; the same epoch again is a no-op.
  absl::Status BeginEpoch(int64_t epoch);

  int32_t rungs() const { return static_cast<int32_t>(config_.hint_ladder.size()); }
  const PolicyConfig& config() const { return config_; }
  const PolicyState& state() const { return state_; }

 private:
  explicit Policy(PolicyConfig config, PolicyState state) : config_(std::move(config)), state_(std::move(state)) {}
  PolicyDecision DecideFromHistory(PromptHistory& history, const std::optional<Prediction>& prediction,
                                   const std::vector<double>& rung_predictions = {});
  PolicyDecision DecideBeforeOutcomes(PromptHistory& history, const std::optional<Prediction>& prediction) const;
  PolicyDecision DecideByPrediction(PromptHistory& history, const Prediction& prediction,
                                    const std::vector<double>& rung_predictions) const;
  PolicyDecision Guide(int32_t level, std::string reason) const;
  // ExpectedPassRate's inputs: the prior mean and the (decayed) evidence at the decided rung.
  struct Expectation {
    double prior = 0;
    double successes = 0;
    double trials = 0;
  };
  Expectation ExpectationOf(const std::string& prompt_id, const PolicyDecision& decision,
                            const Prediction& prediction) const;
  static void SetReference(PromptHistory& history, bool has_reference);
  static void Remember(PromptHistory& history, const PolicyDecision& decision);

  PolicyConfig config_;
  PolicyState state_;
};

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_POLICY_POLICY_H_

// TrainerPlugin is what a trainer talks to. Once per training batch it calls Decide with the
// batch's prompts and the difficulty service's features for them; it rolls out each prompt as the
// decision says; it reports each group's rewards with Observe; it marks epochs with BeginEpoch;
// and it saves and loads the plugin's state with its own checkpoints.
//
// Data flow inside: features -> PassRatePredictor (predicted unhinted pass rate) -> Policy
// (KEEP / GUIDE(rung) / DROP / DEFER, per-prompt ladder) -> hints (the reference solution's prefix,
// cut at a step boundary, placed by the hint template). Observe feeds the rewards back to the
// policy (the ladder) and, for groups that measure the unhinted pass rate, to the predictor.
//
// Fail-open: a prompt whose PromptFeatures is empty (the service failed, timed out or was not
// asked) is decided by Policy::DecideWithoutFeatures: KEEP, or its last known state
// (PolicyConfig::fail_open), and counted in Stats().counters.fail_open_decisions. DecideWithoutFeatures
// does this for a whole batch. Training never waits on the plugin.
//
// Prompt-length budget: a trainer filters over-long prompts when its dataset loads, before any
// hint exists, so a hint must not push a prompt over that limit. Decide takes an optional `fits`,
// the trainer's own test (its tokenizer and chat template, its max_prompt_length). A hinted prompt
// that fails it gets the longest shorter hint that passes, still cut at a step boundary
// (counters.hints_shortened_to_fit); if none passes, the prompt is rolled out unhinted as KEEP, its
// group observed as unhinted and its rung left alone (counters.hints_withheld_to_fit). The reason
// says which.
//
// Errors are values. Decide fails only on caller bugs (mismatched sizes, empty ids, features that
// do not fit the schema, invalid UTF-8 in a reference solution), and then changes no state; or
// when `fits` itself fails, and then the decisions made so far are lost to the caller.
//
// Thread-safe: every method takes one internal mutex (calls are per batch, so it never contends
// in practice).
#ifndef SPARSEGATE_TRAINER_PLUGIN_PLUGIN_H_
#define SPARSEGATE_TRAINER_PLUGIN_PLUGIN_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "trainer_plugin/features.h"
#include "trainer_plugin/hints/hint_cutter.h"
#include "trainer_plugin/hints/hint_template.h"
#include "trainer_plugin/policy/policy.h"
#include "trainer_plugin/policy/rollout_cost.h"
#include "trainer_plugin/predictor/predictor.h"
#include "trainer_plugin/state/plugin_checkpoint.h"
#include "trainer_plugin/stats.h"

namespace sparsegate::plugin {

struct PluginConfig {
  PredictorConfig predictor;
  PolicyConfig policy;
  HintCutOptions hint_cut;
  HintTemplate hint_template = HintTemplate::Default();
};

// One prompt of a training batch.
struct PromptInfo {
  std::string id;      // stable across epochs: the plugin's memory of the prompt is keyed by it
  std::string prompt;  // the user message's text, before the chat template
  std::optional<std::string> reference_solution;  // none: the prompt can only be kept or dropped
};

// OK when every prompt of `batch` has a non-empty id of its own: one decision, and one observe,
// per id and batch. InvalidArgument naming both positions otherwise.
absl::Status CheckBatchIds(const std::vector<PromptInfo>& batch);

struct Decision {
  std::string prompt_id;
  DecisionKind kind = DecisionKind::kKeep;
  int32_t hint_level = 0;    // the rung, 0 unless GUIDE
  double hint_fraction = 0;  // the ladder's fraction at that rung, 0 unless GUIDE
  // What to roll out: the prompt with the hint block when GUIDE, the prompt as given otherwise.
  std::string prompt_text;
  // The hint block alone (empty unless GUIDE): prompt_text == prompt + hint_text, so a caller that
  // works in token ids can tokenize the hint separately.
  std::string hint_text;
  CutBoundary hint_boundary = CutBoundary::kEmpty;  // where the reference solution was cut
  std::optional<Prediction> prediction;  // absent when decided without features
  // The pass rate this rollout is expected to have (Policy::ExpectedPassRate): the prompt's recent
  // groups at the rung decided now, on a prior that is the prediction (unhinted) or every prompt's
  // pass rate at that rung (hinted). Absent without features. What SelectNearestPassRate ranks by.
  std::optional<double> expected_pass_rate;
  // The same belief with its spread (Policy::BeliefOf), for selection by the chance of a group
  // with signal or by Thompson sampling (selection.h). Absent without features.
  std::optional<PassRatePosterior> pass_rate_posterior;
  // Completion tokens one rollout of this prompt is expected to take (policy/rollout_cost.h):
  // learned from the completion lengths given to Observe; absent until some were given, and
  // without features. What SelectionRule::kSignalPerToken divides by.
  std::optional<double> expected_completion_tokens;
  // Set by Gate::Select with SelectionOptions::vary_group_size: the rollouts this prompt gets of the
  // chosen batch's count x group_size (AllocateGroupSizes). Absent otherwise: the trainer's own G.
  std::optional<int> recommended_group_size;
  // With rungs chosen by prediction (PolicyConfig::rungs_by_prediction): the expected pass rate at
  // every rung, index 0 unhinted, that the rung was chosen by; empty otherwise.
  std::vector<double> rung_pass_rates;
  // The digest of the model whose features the decision read (PromptFeatures::model_digest); empty
  // when decided without features. A service that follows the policy changes it over training.
  std::string model_digest;
  bool fail_open = false;
  std::string reason;
};

// A prompt with one rung's hint placed, as a GUIDE decision at that rung would roll it out (before
// any shortening to fit a prompt-length budget).
struct HintedVariant {
  std::string prompt_text;  // prompt + hint_text
  std::string hint_text;
};

// Whether the prompt to roll out, batch[index] with its hint placed, fits the trainer's budget.
using PromptFits = std::function<absl::StatusOr<bool>(size_t index, const std::string& prompt_text)>;

class TrainerPlugin {
 public:
  static absl::StatusOr<std::unique_ptr<TrainerPlugin>> Create(FeatureSchema schema, PluginConfig config = {});

  // Optional: a reference set for the unsupervised prior's percentiles (e.g. features of a sample
  // of the training set). Without it, the prompts seen in Decide calls form the reference.
  absl::Status SetPriorReference(const std::vector<PromptFeatures>& reference);

  // One decision per prompt, in order. features[i] belongs to batch[i]; an empty PromptFeatures
  // means no features for that prompt (fail-open). Outcomes observed since the last call are
  // fitted first, so decisions use everything learned so far. `fits`: the prompt-length budget
  // (top of this file); none, no budget.
  //
  // `hinted_variants`, for rungs chosen by prediction (PolicyConfig::rungs_by_prediction): empty,
  // or one entry per prompt holding the features of its HintedVariants, one per rung, in order (an
  // empty entry, or any empty PromptFeatures in it: the variants were not scored, and the prompt
  // climbs the ladder). The supervised model predicts each rung's pass rate from them; while the
  // prior is active the ladder decides.
  absl::StatusOr<std::vector<Decision>> Decide(const std::vector<PromptInfo>& batch,
                                               const std::vector<PromptFeatures>& features,
                                               const PromptFits& fits = nullptr,
                                               const std::vector<std::vector<PromptFeatures>>& hinted_variants = {});

  // What Decide needs scored for rungs chosen by prediction: the prompt with each rung's hint, in
  // rung order. Empty when rungs_by_prediction is off or the prompt has no usable reference.
  std::vector<HintedVariant> HintedVariants(const PromptInfo& info) const;

  // Fail-open for a whole batch, when the service could not be reached at all.
  absl::StatusOr<std::vector<Decision>> DecideWithoutFeatures(const std::vector<PromptInfo>& batch,
                                                              const PromptFits& fits = nullptr);

  // The rewards of one prompt's G rollouts, each in [0, 1], after the rollouts of its last decision.
  // `completion_tokens`, optional: each rollout's completion length in tokens, in the same order;
  // unhinted groups' lengths teach the plugin what a rollout of each prompt costs
  // (Decision::expected_completion_tokens).
  absl::Status Observe(const std::string& prompt_id, const std::vector<double>& rewards,
                       const std::vector<double>& completion_tokens = {});

  // Outcomes measured outside this plugin's decisions (an offline evaluation, an earlier run): the
  // prompt's features and its successes out of `trials` unhinted rollouts. They train the
  // predictor only (held-out prompts stay held out), never the policy's ladder; they are fitted at
  // the next Decide.
  absl::Status ObserveOffline(const std::string& prompt_id, const PromptFeatures& features, int32_t successes,
                              int32_t trials);

  // Epoch boundaries, for quarantine and deferral; epochs never go backwards.
  absl::Status BeginEpoch(int64_t epoch);

  absl::Status Save(const std::string& path) const;
  // All or nothing: on any error the plugin keeps its current state. The checkpoint must come
  // from a plugin with the same feature schema, ladder length and probe settings; thresholds and
  // other settings are this plugin's own, so a resumed run may retune them.
  absl::Status Load(const std::string& path);
  // The same state in memory: what Save writes, and what Load reads, with Load's checks
  // (`source` names the snapshot in their messages).
  PluginCheckpoint Snapshot() const;
  absl::Status Restore(PluginCheckpoint checkpoint, const std::string& source = "snapshot");

  // Whether the predictor holds this prompt's outcomes out of training, to measure itself on them.
  bool IsHoldout(const std::string& prompt_id) const;

  PluginStats Stats() const;
  nlohmann::json StatsJson() const;

  const FeatureSchema& schema() const { return schema_; }
  const PluginConfig& config() const { return config_; }

 private:
  TrainerPlugin(FeatureSchema schema, PluginConfig config, PassRatePredictor predictor, Policy policy);

  // The prompt with the first `fraction` of its reference solution placed as a hint, into `variant`.
  absl::StatusOr<HintCut> Hint(const PromptInfo& info, double fraction, HintedVariant& variant) const;
  // Turns a policy decision into the caller's Decision, cutting and placing the hint for GUIDE.
  absl::StatusOr<Decision> Finish(const PromptInfo& info, PolicyDecision decision,
                                  const std::optional<Prediction>& prediction, bool fail_open) const;
  // Applies the prompt-length budget to a GUIDE decision (top of this file).
  absl::Status FitHint(size_t index, const PromptInfo& info, const PromptFits& fits, Decision& decision);
  void Count(const Decision& decision);
  absl::StatusOr<Decision> FailOpen(size_t index, const PromptInfo& info, const PromptFits& fits);
  PluginStats StatsLocked() const;

  const FeatureSchema schema_;
  const PluginConfig config_;
  mutable std::mutex mutex_;
  PassRatePredictor predictor_;
  Policy policy_;
  PluginCounters counters_;
  RolloutCost rollout_cost_;
  std::map<std::string, PendingDecision> pending_;  // prompts decided, awaiting Observe
};

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_PLUGIN_H_

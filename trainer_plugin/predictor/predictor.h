// PassRatePredictor turns a prompt's features and length into the predicted probability that one
// unhinted rollout succeeds under the current policy, and learns that mapping from outcomes.
//
// Two models, one active at a time:
//   - The prior (length_binned_prior.h): before outcomes, a sparsity metric's percentile among
//     prompts of similar length. An unsupervised ranking guess, not a calibrated probability.
//   - The supervised model: logistic regression on the standardised metrics plus
//     log(token_count), plus, when hidden vectors come with the features, a probe on their
//     64-dimensional projection (hidden_projection.h). Fitted on binomial outcomes (successes and
//     failures of each observed group) with L2 penalties, by exact Newton steps warm-started from
//     the previous fit, at the first Refit() after new observations. It learns the sign and weight
//     of every feature, which matters because the direction "sparser = harder" is not universal.
// The supervised model becomes active once it has trained on min_training_groups groups AND its
// log loss on held-out groups is no worse than the prior's. The check is repeated at each refit,
// so the predictor always uses whichever of the two held-out outcomes currently favour.
//
// Held-out groups: a prompt is held out when StableHash64(prompt_id) % holdout_modulus == 0 (one
// prompt in five by default). Its outcomes never train the model; Quality() reports both models on
// them (AUROC for pass@G = 0, calibration error, log loss). The split is by prompt, not by group,
// so a prompt seen in several epochs cannot leak into its own evaluation.
//
// Following the policy: the window of max_observations groups, optionally a recency weight within
// it (recency_half_life_groups), and optionally a Platt recalibration of the active model on the
// recent groups it did not train on (recalibrate). Quality() reports the models before
// recalibration, since the calibration is fitted on those same groups; the plugin's forward
// quality windows (stats.h) score what Predict returned before each outcome was known.
//
// Outcomes it should be given: groups rolled out without a hint, and groups that failed entirely
// with a hint (a hint is assumed never to make a prompt harder, so pass 0 with a hint implies
// pass 0 without). With hint_fraction_column, also every hinted group, with the features of the
// hinted prompt as scored and its hint fraction. The facade does this filtering; hinted groups
// stay out of the fits and the quality while the column is off.
//
// Not thread-safe; the facade serialises calls.
#ifndef SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_PREDICTOR_H_
#define SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_PREDICTOR_H_

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer_plugin/features.h"
#include "trainer_plugin/predictor/hidden_projection.h"
#include "trainer_plugin/predictor/length_binned_prior.h"
#include "trainer_plugin/predictor/logistic_regression.h"
#include "trainer_plugin/predictor/platt_calibration.h"
#include "trainer_plugin/predictor/prediction.h"
#include "trainer_plugin/predictor/quality.h"

namespace sparsegate::plugin {

struct PredictorConfig {
  PriorConfig prior;
  // 64 groups: with 15-50 metric columns a fit on fewer groups mostly describes noise, and at
  // G = 8 rollouts that is ~500 rollouts, a few training steps of a typical run.
  int min_training_groups = 64;
  // Below this many held-out groups the log-loss comparison with the prior is too noisy to trust,
  // and the supervised model waits.
  int min_holdout_groups = 16;
  // One prompt in holdout_modulus is held out for evaluation; 0 disables the holdout (then the
  // supervised model takes over on min_training_groups alone and Quality() has no numbers).
  int holdout_modulus = 5;
  // L2 penalties in units of groups: each is multiplied by the mean trials per training group, so
  // "1.0" weighs like one extra group's worth of evidence pulling each standardised weight to 0.
  // Rollouts of one prompt are correlated, so evidence is counted per group, not per rollout.
  double l2_metrics = 1.0;
  // The hidden probe has more columns than the data can pin down early on: a stronger penalty.
  double l2_hidden = 16.0;
  // Columns of the hidden-vector projection; 0 disables the probe.
  int hidden_probe_dims = 64;
  uint64_t hidden_projection_seed = 0x5350415253454741ULL;
  // Channels left out of the probe (the service's detected massive-activation channels).
  std::vector<int32_t> hidden_excluded_channels;
  // A sliding window: the policy improves during training, so recent outcomes describe it better
  // than old ones. 8192 groups bound a refit to well under a second and the checkpoint to a few MB.
  size_t max_observations = 8192;
  // Within the window, a group's weight in the fits halves every this many newer groups, so the
  // model follows the policy rather than averaging over its past; 0 weighs every group alike.
  double recency_half_life_groups = 0;
  // Platt recalibration (platt_calibration.h) of the active model's pass rates on the most recent
  // `recalibration_groups` held-out groups (recency-weighted like the fits), refitted with the
  // model. The models drift behind an improving policy in level more than in ranking, and a
  // rescaling fitted on outcomes they never trained on corrects the level without touching the
  // ranking. While the prior is active it is rescaled on every recent group, since it trains on
  // none; the supervised model only on held-out ones. Needs a holdout; waits for
  // min_holdout_groups such groups.
  bool recalibrate = false;
  int recalibration_groups = 256;
  // The plugin scores its decisions forward (stats.h) in windows of this many unhinted groups:
  // 256 groups pin an ECE to about +-0.03 and are a few steps of a typical run.
  int quality_window_groups = 256;
  int newton_max_iterations = 25;
  // A baseline that reads only the prompt's length: every metric is taken as 0 except the prior's
  // column, which becomes log(token_count) (so the prior ranks by length), and no hidden probe. Run
  // beside the full predictor, it shows what the sparsity features add beyond length.
  bool length_only = false;
  // A column for the hint: the supervised model reads each group's hint fraction (0 unhinted) beside
  // the features of the prompt as rolled out, so hinted groups train it too and it predicts a
  // hinted variant's pass rate from that variant's features. Set by the plugin from
  // PolicyConfig::rungs_by_prediction, which needs it; the prior ignores it.
  bool hint_fraction_column = false;
};

absl::Status ValidatePredictorConfig(const PredictorConfig& config);

// A prompt's features in the form the predictor keeps: metrics as given, log(token_count), and
// the hidden vector's projection (empty when no hidden vector came or the probe is off).
struct EncodedPrompt {
  std::vector<float> metrics;
  double log_token_count = 0;
  std::vector<float> hidden_projection;
  std::string model_digest;  // of the model that scored the prompt (PromptFeatures::model_digest)
  // The share of the reference solution shown in the prompt these features are of: 0 for the prompt
  // itself, the rung's fraction for a hinted variant (PredictorConfig::hint_fraction_column).
  double hint_fraction = 0;
};

struct ObservedGroup {
  std::string prompt_id;
  EncodedPrompt features;
  int32_t successes = 0;
  int32_t trials = 0;
};

// The supervised model and the standardisation it was fitted with, one entry per model column:
// the metric columns, then log(token_count), then (if used) the hint fraction, then (if used) the
// hidden projection.
struct SupervisedFit {
  LogisticModel model;
  std::vector<double> column_mean;
  std::vector<double> column_scale;
  bool uses_hidden = false;
  bool uses_hint_fraction = false;
  size_t hidden_offset(size_t metrics) const { return metrics + 1 + (uses_hint_fraction ? 1 : 0); }
};

// Everything the predictor learned; what a checkpoint stores.
struct PredictorState {
  std::deque<ObservedGroup> observations;                 // oldest first, training and held-out
  std::map<std::string, ReferencePoint> seen_reference;   // prompts seen in Decide, by id
  std::optional<std::vector<ReferencePoint>> explicit_reference;  // set by SetReference
  std::optional<SupervisedFit> fit;
  bool supervised_active = false;
  std::optional<PlattCalibration> calibration;  // of the active model, when recalibrating
  int64_t observations_since_fit = 0;
  int64_t total_observations = 0;
};

struct PredictorQuality {
  PredictionSource active = PredictionSource::kPrior;
  int64_t training_groups = 0;  // in the window
  int64_t holdout_groups = 0;   // in the window
  QualitySummary prior;         // both models scored on the same held-out groups
  std::optional<QualitySummary> supervised;
};

class PassRatePredictor {
 public:
  static absl::StatusOr<PassRatePredictor> Create(FeatureSchema schema, PredictorConfig config);
  // Rebuilds a predictor from a checkpoint's state; errors when the state does not fit the schema
  // or the configured probe size.
  static absl::StatusOr<PassRatePredictor> Restore(FeatureSchema schema, PredictorConfig config, PredictorState state);

  // Validates and encodes features. Hidden vectors of any size project to hidden_probe_dims
  // numbers; that they all come from the same model is the client's to check (Info's model
  // digest), since equal sizes would not prove it either.
  absl::StatusOr<EncodedPrompt> Encode(const PromptFeatures& features) const;

  // A caller-chosen reference set for the prior (e.g. a sample of the training set scored before
  // training). Without one, prompts passed to AddToReference form it.
  absl::Status SetReference(const std::vector<PromptFeatures>& reference);
  // Adds or updates prompts in the accumulated reference set and rebuilds the prior's bins once.
  // No effect when an explicit reference was set.
  void AddToReference(const std::vector<std::string>& prompt_ids, const std::vector<EncodedPrompt>& prompts);

  absl::Status Observe(const std::string& prompt_id, const EncodedPrompt& features, int32_t successes, int32_t trials);

  // Refits the supervised model if outcomes arrived since the last fit, and re-decides which
  // model is active. Cheap when nothing changed.
  absl::Status Refit();

  // The active model's pass rate, recalibrated when a calibration is fitted.
  Prediction Predict(const EncodedPrompt& prompt) const;
  double PriorPassRate(const EncodedPrompt& prompt) const;
  std::optional<double> SupervisedPassRate(const EncodedPrompt& prompt) const;

  bool IsHoldout(const std::string& prompt_id) const;
  PredictorQuality Quality() const;
  // Scores the active model on any labelled groups (e.g. a fixed evaluation set in a test).
  QualitySummary Evaluate(const std::vector<ObservedGroup>& groups) const;

  const PredictorState& state() const { return state_; }
  const FeatureSchema& schema() const { return schema_; }
  const PredictorConfig& config() const { return config_; }

 private:
  PassRatePredictor(FeatureSchema schema, PredictorConfig config, size_t prior_column);
  void RebuildPrior();
  // The standardised model row for `prompt` under `fit`.
  void ModelRow(const SupervisedFit& fit, const EncodedPrompt& prompt, double* row) const;
  std::vector<ScoredOutcome> ScoreHoldout(bool supervised) const;
  // Whether the models can learn from `group`: a hinted group only through the hint column.
  bool Describes(const ObservedGroup& group) const;
  // Weight of the observation at `index` (0 = oldest) of the window, by recency_half_life_groups.
  double RecencyWeight(size_t index) const;
  void Recalibrate();

  FeatureSchema schema_;
  PredictorConfig config_;
  size_t prior_column_;
  LengthBinnedPrior prior_;
  std::optional<HiddenProjection> projection_;
  PredictorState state_;
};

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_PREDICTOR_H_

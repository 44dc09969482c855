#include "trainer_plugin/predictor/predictor.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "trainer_plugin/stable_hash.h"

namespace sparsegate::plugin {
namespace {

constexpr char kDefaultPriorSuffix[] = "top10_energy";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

absl::StatusOr<size_t> ResolvePriorColumn(const FeatureSchema& schema, const PriorConfig& config) {
  if (!config.metric_column.empty()) {
    if (auto index = schema.IndexOf(config.metric_column)) return *index;
    return absl::InvalidArgumentError(
        absl::StrCat("prior metric column '", config.metric_column, "' is not in the feature schema"));
  }
  for (size_t i = 0; i < schema.columns.size(); ++i) {
    if (EndsWith(schema.columns[i], kDefaultPriorSuffix)) return i;
  }
  return absl::InvalidArgumentError(absl::StrCat("no feature schema column ends in '", kDefaultPriorSuffix,
                                                 "'; set PriorConfig::metric_column to the column the prior should read"));
}

// Mean and scale of one column over the values given; a constant column gets scale 1 so that it
// standardises to 0 and its weight stays at 0 under the penalty.
std::pair<double, double> MeanAndScale(const std::vector<double>& values) {
  if (values.empty()) return {0.0, 1.0};
  double mean = 0;
  for (double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  double var = 0;
  for (double v : values) var += (v - mean) * (v - mean);
  var /= static_cast<double>(values.size());
  const double sd = std::sqrt(var);
  return {mean, sd > 1e-12 ? sd : 1.0};
}

}  // namespace

absl::Status ValidatePredictorConfig(const PredictorConfig& config) {
  if (absl::Status s = ValidatePriorConfig(config.prior); !s.ok()) return s;
  if (config.min_training_groups < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_training_groups must be at least 1, got ", config.min_training_groups));
  }
  if (config.min_holdout_groups < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_holdout_groups must be at least 1, got ", config.min_holdout_groups));
  }
  if (config.holdout_modulus < 0 || config.holdout_modulus == 1) {
    return absl::InvalidArgumentError(absl::StrCat("holdout_modulus must be 0 (no holdout) or at least 2, got ",
                                                   config.holdout_modulus));
  }
  if (!(config.l2_metrics > 0) || !(config.l2_hidden > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("L2 penalties must be positive, got l2_metrics ",
                                                   config.l2_metrics, " and l2_hidden ", config.l2_hidden));
  }
  if (config.hidden_probe_dims < 0 || config.hidden_probe_dims > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("hidden_probe_dims must be in [0, 1024], got ", config.hidden_probe_dims));
  }
  if (config.max_observations < 1) return absl::InvalidArgumentError("max_observations must be at least 1");
  if (config.newton_max_iterations < 1) return absl::InvalidArgumentError("newton_max_iterations must be at least 1");
  if (!(config.recency_half_life_groups >= 0) || std::isinf(config.recency_half_life_groups)) {
    return absl::InvalidArgumentError(absl::StrCat("recency_half_life_groups must be 0 (off) or a positive number, got ",
                                                   config.recency_half_life_groups));
  }
  if (config.recalibration_groups < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("recalibration_groups must be at least 1, got ", config.recalibration_groups));
  }
  if (config.quality_window_groups < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("quality_window_groups must be at least 1, got ", config.quality_window_groups));
  }
  if (config.recalibrate && config.holdout_modulus == 0) {
    return absl::InvalidArgumentError("recalibrate needs held-out groups: holdout_modulus is 0");
  }
  return absl::OkStatus();
}

PassRatePredictor::PassRatePredictor(FeatureSchema schema, PredictorConfig config, size_t prior_column)
    : schema_(std::move(schema)), config_(std::move(config)), prior_column_(prior_column), prior_(config_.prior) {
  if (config_.hidden_probe_dims > 0) {
    projection_.emplace(config_.hidden_probe_dims, config_.hidden_projection_seed, config_.hidden_excluded_channels);
  }
}

absl::StatusOr<PassRatePredictor> PassRatePredictor::Create(FeatureSchema schema, PredictorConfig config) {
  return Restore(std::move(schema), std::move(config), PredictorState{});
}

absl::StatusOr<PassRatePredictor> PassRatePredictor::Restore(FeatureSchema schema, PredictorConfig config,
                                                             PredictorState state) {
  if (absl::Status s = ValidateSchema(schema); !s.ok()) return s;
  if (absl::Status s = ValidatePredictorConfig(config); !s.ok()) return s;
  absl::StatusOr<size_t> prior_column = ResolvePriorColumn(schema, config.prior);
  if (!prior_column.ok()) return prior_column.status();

  const size_t metrics = schema.size();
  const size_t probe = static_cast<size_t>(config.hidden_probe_dims);
  for (const ObservedGroup& g : state.observations) {
    if (g.features.metrics.size() != metrics) {
      return absl::InvalidArgumentError(absl::StrCat("observation of prompt '", g.prompt_id, "' has ",
                                                     g.features.metrics.size(), " metrics; the schema has ", metrics));
    }
    if (!g.features.hidden_projection.empty() && g.features.hidden_projection.size() != probe) {
      return absl::InvalidArgumentError(absl::StrCat("observation of prompt '", g.prompt_id, "' has a ",
                                                     g.features.hidden_projection.size(),
                                                     "-column hidden projection; the probe has ", probe));
    }
    if (g.trials < 1 || g.successes < 0 || g.successes > g.trials) {
      return absl::InvalidArgumentError(absl::StrCat("observation of prompt '", g.prompt_id, "' has ", g.successes,
                                                     " successes out of ", g.trials, " trials"));
    }
    if (!(g.features.hint_fraction >= 0 && g.features.hint_fraction <= 1)) {
      return absl::InvalidArgumentError(absl::StrCat("observation of prompt '", g.prompt_id, "' has hint fraction ",
                                                     g.features.hint_fraction, ", outside [0, 1]"));
    }
  }
  if (state.fit && state.fit->uses_hint_fraction != config.hint_fraction_column) {
    // Fitted with the other column layout (a checkpoint from before the hint column, or a run that
    // turned it on or off): refitted from the kept observations at the next Refit.
    state.fit.reset();
    state.supervised_active = false;
    state.calibration.reset();
    state.observations_since_fit = std::max<int64_t>(state.observations_since_fit, 1);
  }
  if (state.fit) {
    const size_t columns = state.fit->hidden_offset(metrics) + (state.fit->uses_hidden ? probe : 0);
    if (state.fit->model.weights.size() != columns || state.fit->column_mean.size() != columns ||
        state.fit->column_scale.size() != columns || (state.fit->uses_hidden && probe == 0)) {
      return absl::InvalidArgumentError(absl::StrCat("the supervised fit has ", state.fit->model.weights.size(),
                                                     " weights; this schema and probe size need ", columns));
    }
  }
  if (!config.recalibrate) state.calibration.reset();  // a calibration is this configuration's choice
  PassRatePredictor predictor(std::move(schema), std::move(config), *prior_column);
  predictor.state_ = std::move(state);
  predictor.RebuildPrior();
  return predictor;
}

absl::StatusOr<EncodedPrompt> PassRatePredictor::Encode(const PromptFeatures& features) const {
  if (absl::Status s = ValidateFeatures(schema_, features); !s.ok()) return s;
  EncodedPrompt encoded;
  encoded.log_token_count = std::log(static_cast<double>(features.token_count));
  encoded.model_digest = features.model_digest;
  if (config_.length_only) {
    encoded.metrics.assign(features.metrics.size(), 0.0f);
    encoded.metrics[prior_column_] = static_cast<float>(encoded.log_token_count);
    return encoded;
  }
  encoded.metrics = features.metrics;
  if (projection_ && !features.hidden.empty()) encoded.hidden_projection = projection_->Project(features.hidden);
  return encoded;
}

absl::Status PassRatePredictor::SetReference(const std::vector<PromptFeatures>& reference) {
  std::vector<ReferencePoint> points;
  points.reserve(reference.size());
  for (size_t i = 0; i < reference.size(); ++i) {
    if (absl::Status s = ValidateFeatures(schema_, reference[i]); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("reference prompt ", i, ": ", s.message()));
    }
    const double log_length = std::log(static_cast<double>(reference[i].token_count));
    points.push_back({log_length, config_.length_only ? log_length : reference[i].metrics[prior_column_]});
  }
  state_.explicit_reference = std::move(points);
  RebuildPrior();
  return absl::OkStatus();
}

void PassRatePredictor::AddToReference(const std::vector<std::string>& prompt_ids,
                                       const std::vector<EncodedPrompt>& prompts) {
  if (state_.explicit_reference) return;
  bool changed = false;
  for (size_t i = 0; i < prompt_ids.size() && i < prompts.size(); ++i) {
    const ReferencePoint point{prompts[i].log_token_count, prompts[i].metrics[prior_column_]};
    auto it = state_.seen_reference.find(prompt_ids[i]);
    if (it != state_.seen_reference.end()) {
      if (it->second.log_token_count != point.log_token_count || it->second.metric != point.metric) {
        it->second = point;
        changed = true;
      }
    } else if (state_.seen_reference.size() < config_.prior.max_reference_prompts) {
      state_.seen_reference.emplace(prompt_ids[i], point);
      changed = true;
    }
  }
  if (changed) RebuildPrior();
}

void PassRatePredictor::RebuildPrior() {
  if (state_.explicit_reference) {
    prior_.Rebuild(*state_.explicit_reference);
    return;
  }
  std::vector<ReferencePoint> points;
  points.reserve(state_.seen_reference.size());
  for (const auto& [id, point] : state_.seen_reference) points.push_back(point);
  prior_.Rebuild(points);
}

absl::Status PassRatePredictor::Observe(const std::string& prompt_id, const EncodedPrompt& features,
                                        int32_t successes, int32_t trials) {
  if (trials < 1 || successes < 0 || successes > trials) {
    return absl::InvalidArgumentError(
        absl::StrCat("prompt '", prompt_id, "': ", successes, " successes out of ", trials, " trials"));
  }
  if (features.metrics.size() != schema_.size()) {
    return absl::InvalidArgumentError(absl::StrCat("prompt '", prompt_id, "': ", features.metrics.size(),
                                                   " metrics; the schema has ", schema_.size()));
  }
  if (!(features.hint_fraction >= 0 && features.hint_fraction <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("prompt '", prompt_id, "': hint fraction ", features.hint_fraction, ", outside [0, 1]"));
  }
  state_.observations.push_back({prompt_id, features, successes, trials});
  while (state_.observations.size() > config_.max_observations) state_.observations.pop_front();
  ++state_.observations_since_fit;
  ++state_.total_observations;
  return absl::OkStatus();
}

bool PassRatePredictor::Describes(const ObservedGroup& group) const {
  return config_.hint_fraction_column || group.features.hint_fraction == 0;
}

bool PassRatePredictor::IsHoldout(const std::string& prompt_id) const {
  return config_.holdout_modulus > 0 &&
         StableHash64(prompt_id) % static_cast<uint64_t>(config_.holdout_modulus) == 0;
}

void PassRatePredictor::ModelRow(const SupervisedFit& fit, const EncodedPrompt& prompt, double* row) const {
  const size_t m = schema_.size();
  for (size_t j = 0; j < m; ++j) row[j] = (prompt.metrics[j] - fit.column_mean[j]) / fit.column_scale[j];
  row[m] = (prompt.log_token_count - fit.column_mean[m]) / fit.column_scale[m];
  if (fit.uses_hint_fraction) row[m + 1] = (prompt.hint_fraction - fit.column_mean[m + 1]) / fit.column_scale[m + 1];
  if (!fit.uses_hidden) return;
  const size_t h = static_cast<size_t>(config_.hidden_probe_dims);
  const size_t o = fit.hidden_offset(m);
  const bool present = prompt.hidden_projection.size() == h;
  for (size_t k = 0; k < h; ++k) {
    // A prompt without a hidden vector sits at the training mean: it contributes nothing.
    row[o + k] = present ? (prompt.hidden_projection[k] - fit.column_mean[o + k]) / fit.column_scale[o + k] : 0.0;
  }
}

absl::Status PassRatePredictor::Refit() {
  if (state_.observations_since_fit == 0) return absl::OkStatus();
  state_.observations_since_fit = 0;

  std::vector<const ObservedGroup*> training;
  std::vector<double> weights;
  int64_t successes = 0, failures = 0, holdout = 0;
  bool any_hidden = false;
  for (size_t index = 0; index < state_.observations.size(); ++index) {
    const ObservedGroup& g = state_.observations[index];
    if (!Describes(g)) continue;
    if (IsHoldout(g.prompt_id)) {
      ++holdout;
      continue;
    }
    training.push_back(&g);
    weights.push_back(RecencyWeight(index));
    successes += g.successes;
    failures += g.trials - g.successes;
    any_hidden = any_hidden || !g.features.hidden_projection.empty();
  }
  if (successes == 0 || failures == 0) {
    // Nothing to discriminate yet: a fit would only push the intercept to infinity.
    state_.fit.reset();
    state_.supervised_active = false;
    Recalibrate();
    return absl::OkStatus();
  }

  SupervisedFit fit;
  fit.uses_hidden = any_hidden && projection_.has_value();
  fit.uses_hint_fraction = config_.hint_fraction_column;
  const size_t m = schema_.size();
  const size_t o = fit.hidden_offset(m);
  const size_t h = fit.uses_hidden ? static_cast<size_t>(config_.hidden_probe_dims) : 0;
  const size_t dims = o + h;
  fit.column_mean.resize(dims);
  fit.column_scale.resize(dims);
  std::vector<double> column;
  for (size_t j = 0; j < dims; ++j) {
    column.clear();
    for (const ObservedGroup* g : training) {
      if (j < m) {
        column.push_back(g->features.metrics[j]);
      } else if (j == m) {
        column.push_back(g->features.log_token_count);
      } else if (j < o) {
        column.push_back(g->features.hint_fraction);
      } else if (g->features.hidden_projection.size() == h) {
        column.push_back(g->features.hidden_projection[j - o]);
      }
    }
    std::tie(fit.column_mean[j], fit.column_scale[j]) = MeanAndScale(column);
  }

  BinomialData data;
  data.dims = dims;
  data.x.resize(training.size() * dims);
  double total_trials = 0;
  for (size_t i = 0; i < training.size(); ++i) {
    ModelRow(fit, training[i]->features, data.x.data() + i * dims);
    data.successes.push_back(weights[i] * training[i]->successes);
    data.trials.push_back(weights[i] * training[i]->trials);
    total_trials += weights[i] * training[i]->trials;
  }
  const double mean_trials = total_trials / static_cast<double>(training.size());
  NewtonOptions options;
  options.max_iterations = config_.newton_max_iterations;
  options.l2.assign(dims, config_.l2_metrics * mean_trials);
  for (size_t j = o; j < dims; ++j) options.l2[j] = config_.l2_hidden * mean_trials;

  if (state_.fit && state_.fit->model.weights.size() == dims) fit.model = state_.fit->model;  // warm start
  absl::StatusOr<FitReport> report = FitLogistic(data, options, &fit.model);
  if (!report.ok()) return report.status();
  state_.fit = std::move(fit);

  const auto training_groups = static_cast<int64_t>(training.size());
  if (training_groups < config_.min_training_groups) {
    state_.supervised_active = false;
  } else if (config_.holdout_modulus == 0) {
    state_.supervised_active = true;
  } else if (holdout < config_.min_holdout_groups) {
    state_.supervised_active = false;
  } else {
    const std::optional<double> supervised_loss = MeanLogLoss(ScoreHoldout(true));
    const std::optional<double> prior_loss = MeanLogLoss(ScoreHoldout(false));
    state_.supervised_active = supervised_loss && prior_loss && *supervised_loss <= *prior_loss;
  }
  Recalibrate();
  return absl::OkStatus();
}

double PassRatePredictor::RecencyWeight(size_t index) const {
  if (config_.recency_half_life_groups <= 0) return 1.0;
  const double age = static_cast<double>(state_.observations.size() - 1 - index);
  return std::exp2(-age / config_.recency_half_life_groups);
}

void PassRatePredictor::Recalibrate() {
  state_.calibration.reset();
  if (!config_.recalibrate) return;
  const bool supervised = state_.supervised_active && state_.fit;
  std::vector<CalibrationPoint> points;
  for (size_t index = state_.observations.size(); index-- > 0;) {
    if (points.size() >= static_cast<size_t>(config_.recalibration_groups)) break;
    const ObservedGroup& g = state_.observations[index];
    if (!Describes(g)) continue;
    // The prior learns from no outcome, so every group is out of sample for it: calibrating it on
    // all of them sets its level within a few steps, where held-out groups alone (one in five)
    // would leave a run's first hundred groups on its uncalibrated percentile guesses.
    if (supervised && !IsHoldout(g.prompt_id)) continue;
    const double p = supervised ? *SupervisedPassRate(g.features) : PriorPassRate(g.features);
    points.push_back({p, static_cast<double>(g.successes), static_cast<double>(g.trials), RecencyWeight(index)});
  }
  if (points.size() < static_cast<size_t>(config_.min_holdout_groups)) return;
  state_.calibration = FitPlatt(points);
}

double PassRatePredictor::PriorPassRate(const EncodedPrompt& prompt) const {
  return prior_.PassRate(prompt.log_token_count, prompt.metrics[prior_column_]);
}

std::optional<double> PassRatePredictor::SupervisedPassRate(const EncodedPrompt& prompt) const {
  if (!state_.fit) return std::nullopt;
  std::vector<double> row(state_.fit->model.weights.size());
  ModelRow(*state_.fit, prompt, row.data());
  return state_.fit->model.Probability(row.data());
}

Prediction PassRatePredictor::Predict(const EncodedPrompt& prompt) const {
  std::optional<double> supervised = state_.supervised_active ? SupervisedPassRate(prompt) : std::nullopt;
  Prediction prediction = supervised ? Prediction{*supervised, PredictionSource::kSupervised}
                                     : Prediction{PriorPassRate(prompt), PredictionSource::kPrior};
  if (state_.calibration) prediction.pass_rate = state_.calibration->Apply(prediction.pass_rate);
  return prediction;
}

std::vector<ScoredOutcome> PassRatePredictor::ScoreHoldout(bool supervised) const {
  std::vector<ScoredOutcome> scored;
  for (const ObservedGroup& g : state_.observations) {
    if (!IsHoldout(g.prompt_id) || !Describes(g)) continue;
    const double p = supervised ? SupervisedPassRate(g.features).value_or(0.5) : PriorPassRate(g.features);
    scored.push_back({p, g.successes, g.trials});
  }
  return scored;
}

PredictorQuality PassRatePredictor::Quality() const {
  PredictorQuality quality;
  quality.active = state_.supervised_active && state_.fit ? PredictionSource::kSupervised : PredictionSource::kPrior;
  for (const ObservedGroup& g : state_.observations) {
    if (Describes(g)) ++(IsHoldout(g.prompt_id) ? quality.holdout_groups : quality.training_groups);
  }
  quality.prior = Summarize(ScoreHoldout(false));
  if (state_.fit) quality.supervised = Summarize(ScoreHoldout(true));
  return quality;
}

QualitySummary PassRatePredictor::Evaluate(const std::vector<ObservedGroup>& groups) const {
  std::vector<ScoredOutcome> scored;
  scored.reserve(groups.size());
  for (const ObservedGroup& g : groups) scored.push_back({Predict(g.features).pass_rate, g.successes, g.trials});
  return Summarize(scored);
}

}  // namespace sparsegate::plugin

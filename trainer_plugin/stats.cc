#include "trainer_plugin/stats.h"

#include <algorithm>
#include <string>

namespace sparsegate::plugin {
nlohmann::json NumberOrNull(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

void PluginCounters::RecordCalibration(double predicted_pass_rate, int32_t successes, int32_t trials) {
  const double p = std::clamp(predicted_pass_rate, 0.0, 1.0);
  CalibrationBin& bin = calibration[CalibrationBinOf(p)];
  ++bin.groups;
  bin.predicted_sum += p;
  bin.observed_sum += static_cast<double>(successes) / trials;
}

void ForwardQuality::Record(const ForwardOutcome& outcome, int64_t group_number, int window_groups) {
  if (open.empty()) open_first_group = group_number;
  open.push_back(outcome);
  if (static_cast<int64_t>(open.size()) < window_groups) return;
  closed.push_back(SummarizeWindow(open, open_first_group));
  if (closed.size() > kMaxWindows) closed.erase(closed.begin());
  open.clear();
}

QualityWindow SummarizeWindow(const std::vector<ForwardOutcome>& outcomes, int64_t first_group) {
  std::vector<ScoredOutcome> predicted, expected;
  for (const ForwardOutcome& o : outcomes) {
    predicted.push_back({o.predicted_pass_rate, o.successes, o.trials});
    expected.push_back({o.expected_pass_rate, o.successes, o.trials});
  }
  return {first_group, Summarize(predicted), Summarize(expected)};
}

nlohmann::json QualityToJson(const QualitySummary& q) {
  return {
      {"groups", q.groups},
      {"zero_pass_groups", q.zero_pass_groups},
      {"zero_pass_auroc", NumberOrNull(q.zero_pass_auroc)},
      {"expected_calibration_error", NumberOrNull(q.expected_calibration_error)},
      {"mean_log_loss", NumberOrNull(q.mean_log_loss)},
      {"mean_predicted_pass_rate", q.mean_predicted_pass_rate},
      {"mean_observed_pass_rate", q.mean_observed_pass_rate},
  };
}

nlohmann::json StatsToJson(const PluginStats& stats) {
  const PluginCounters& c = stats.counters;
  nlohmann::json decisions = nlohmann::json::object();
  for (int k = 0; k < kDecisionKindCount; ++k) {
    decisions[std::string(DecisionKindName(static_cast<DecisionKind>(k)))] = c.decisions[k];
  }
  nlohmann::json calibration = nlohmann::json::array();
  int64_t groups = 0;
  double predicted = 0, observed = 0;
  for (int b = 0; b < kCalibrationBins; ++b) {
    const CalibrationBin& bin = c.calibration[b];
    groups += bin.groups;
    predicted += bin.predicted_sum;
    observed += bin.observed_sum;
    calibration.push_back({
        {"predicted_from", static_cast<double>(b) / kCalibrationBins},
        {"predicted_to", static_cast<double>(b + 1) / kCalibrationBins},
        {"groups", bin.groups},
        {"mean_predicted", bin.groups ? nlohmann::json(bin.predicted_sum / bin.groups) : nlohmann::json(nullptr)},
        {"mean_observed", bin.groups ? nlohmann::json(bin.observed_sum / bin.groups) : nlohmann::json(nullptr)},
    });
  }
  const PredictorQuality& q = stats.predictor;
  auto window_json = [](const QualityWindow& w) {
    return nlohmann::json{{"first_group", w.first_group},
                          {"predicted", QualityToJson(w.predicted)},
                          {"expected", QualityToJson(w.expected)}};
  };
  nlohmann::json windows = nlohmann::json::array();
  for (const QualityWindow& w : c.forward.closed) windows.push_back(window_json(w));
  return {
      {"epoch", stats.epoch},
      {"decisions", decisions},
      {"fail_open_decisions", c.fail_open_decisions},
      {"decisions_by_hint_level", c.decisions_by_hint_level},
      {"prompts_by_hint_level", stats.prompts_by_hint_level},
      {"tracked_prompts", stats.tracked_prompts},
      {"quarantined_prompts", stats.quarantined_prompts},
      {"deferred_prompts", stats.deferred_prompts},
      {"observed_groups", c.observed_groups},
      {"zero_pass_groups", c.zero_pass_groups},
      {"all_pass_groups", c.all_pass_groups},
      {"unknown_prompt_observations", c.unknown_prompt_observations},
      {"hints_shortened_to_fit", c.hints_shortened_to_fit},
      {"hints_withheld_to_fit", c.hints_withheld_to_fit},
      {"truncated_prompts", c.truncated_prompts},
      {"hint_variants_scored", c.hint_variants_scored},
      {"hint_variant_tokens", c.hint_variant_tokens},
      {"guided_groups", c.guided_groups},
      {"guided_zero_pass_groups", c.guided_zero_pass_groups},
      {"predicted_vs_observed",
       {
           {"unhinted_groups", groups},
           {"mean_predicted", groups ? nlohmann::json(predicted / groups) : nlohmann::json(nullptr)},
           {"mean_observed", groups ? nlohmann::json(observed / groups) : nlohmann::json(nullptr)},
           {"bins", calibration},
       }},
      {"predictor",
       {
           {"active", std::string(PredictionSourceName(q.active))},
           {"training_groups", q.training_groups},
           {"holdout_groups", q.holdout_groups},
           {"prior_on_holdout", QualityToJson(q.prior)},
           {"supervised_on_holdout", q.supervised ? QualityToJson(*q.supervised) : nlohmann::json(nullptr)},
       }},
      {"forward_quality",
       {
           {"windows", std::move(windows)},
           {"open_window", window_json(SummarizeWindow(c.forward.open, c.forward.open_first_group))},
       }},
  };
}

}  // namespace sparsegate::plugin

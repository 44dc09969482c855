// The numbers a user watches while training: decisions per kind, fail-open decisions, the hint
// ladder's use and state, predicted against observed pass rates, and the predictor's held-out
// quality. PluginCounters are running totals and go into the checkpoint; PluginStats adds what is
// computed from the current state when asked. Both are plain structs; StatsToJson gives the same
// numbers as one JSON object for loggers (wandb, tensorboard, a JSONL file).
//
// Predicted against observed: only groups rolled out without a hint count, because the predictor
// predicts the unhinted pass rate; each is binned by its prediction (10 equal-width bins), so
// per bin mean predicted vs mean observed is a reliability diagram of the live predictor.
#ifndef SPARSEGATE_TRAINER_PLUGIN_STATS_H_
#define SPARSEGATE_TRAINER_PLUGIN_STATS_H_

#include <array>
#include <cstdint>
#include <vector>

#include "nlohmann/json.hpp"
#include "trainer_plugin/policy/policy.h"
#include "trainer_plugin/predictor/predictor.h"

namespace sparsegate::plugin {

struct CalibrationBin {
  int64_t groups = 0;
  double predicted_sum = 0;  // of predicted pass rates
  double observed_sum = 0;   // of successes / trials
};

// Forward quality: each unhinted group's predicted and expected pass rates as they were when its
// prompt was decided, scored against the outcome observed after, a window of training at a time.
// Unlike PredictorQuality (the current models on held-out prompts), these are the numbers the
// decisions were made with, before the outcome could have informed them.
struct ForwardOutcome {
  double predicted_pass_rate = 0;  // Decision::prediction
  double expected_pass_rate = 0;   // Decision::expected_pass_rate
  int32_t successes = 0;
  int32_t trials = 0;
};

struct QualityWindow {
  int64_t first_group = 0;  // the window's first group, counted over the run's observed groups
  QualitySummary predicted;
  QualitySummary expected;
};

struct ForwardQuality {
  // Oldest windows are forgotten past this many (a run of 256 x 256 groups keeps them all).
  static constexpr size_t kMaxWindows = 256;
  std::vector<ForwardOutcome> open;  // the window being filled
  int64_t open_first_group = 0;
  std::vector<QualityWindow> closed;  // oldest first

  // Adds an outcome; closes the window when it holds `window_groups`.
  void Record(const ForwardOutcome& outcome, int64_t group_number, int window_groups);
};

// A window's summary from its outcomes.
QualityWindow SummarizeWindow(const std::vector<ForwardOutcome>& outcomes, int64_t first_group);

struct PluginCounters {
  std::array<int64_t, kDecisionKindCount> decisions{};  // indexed by DecisionKind
  int64_t fail_open_decisions = 0;    // decisions made without features (also counted by kind)
  std::vector<int64_t> decisions_by_hint_level;  // KEEP (rung 0) and GUIDE decisions per rung
  int64_t observed_groups = 0;
  int64_t zero_pass_groups = 0;
  int64_t all_pass_groups = 0;
  int64_t unknown_prompt_observations = 0;  // Observe for a prompt never decided
  // GUIDE decisions whose hinted prompt would not fit the caller's prompt-length budget
  // (TrainerPlugin::Decide's `fits`): the hint cut shorter, or withheld (rolled out unhinted).
  int64_t hints_shortened_to_fit = 0;
  int64_t hints_withheld_to_fit = 0;
  // Decisions made on the features of a prompt the service truncated (ClientOptions::truncate_left).
  int64_t truncated_prompts = 0;
  // Rungs chosen by prediction (PolicyConfig::rungs_by_prediction): the hinted variants scored with
  // the prompts, and their tokens, which is what choosing a rung without rollouts costs.
  int64_t hint_variants_scored = 0;
  int64_t hint_variant_tokens = 0;
  // Observed groups rolled out with a hint, and those of them with no success: a failed rung.
  int64_t guided_groups = 0;
  int64_t guided_zero_pass_groups = 0;
  std::array<CalibrationBin, kCalibrationBins> calibration{};
  ForwardQuality forward;

  // Adds one unhinted group with its prediction to the calibration bins.
  void RecordCalibration(double predicted_pass_rate, int32_t successes, int32_t trials);
};

struct PluginStats {
  PluginCounters counters;
  int64_t epoch = 0;
  int64_t tracked_prompts = 0;
  int64_t quarantined_prompts = 0;  // DROP now
  int64_t deferred_prompts = 0;     // DEFER now
  std::vector<int64_t> prompts_by_hint_level;  // where prompts with a reference sit on the ladder now
  PredictorQuality predictor;
};

// A number, or JSON null when absent (undefined numbers are null, never NaN, in every JSON we write).
nlohmann::json NumberOrNull(const std::optional<double>& value);

nlohmann::json QualityToJson(const QualitySummary& quality);
nlohmann::json StatsToJson(const PluginStats& stats);

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_STATS_H_

// The numbers of `sparsegate evaluate`: does the activation signal tell how hard a prompt is for
// this model beyond what the prompt's surface already says?
//
// Input: scored rows with outcomes (successes out of trials), each with a group (rows of one
// group are never split between training and test, and are resampled together), and optional
// control fields the user names (a difficulty level, a source, a topic; numeric or categorical).
// Every model below is cross-fitted by group (cross_fit.h), so each row's prediction comes from a
// model that never saw its group:
//   length            log(token count) alone
//   controls          the controls + length
//   metrics           the sparsity metrics + length
//   probe             the pooled hidden state (projected, hidden_projection.h, when wider than
//                     probe_dims) + length
//   controls+metrics, controls+probe
//   predictor         the plugin's own PassRatePredictor as configured, trained on the training
//                     folds' groups exactly as a trainer's observations would train it
//   predictor+controls  the same predictor with the controls as extra input columns
// (control and probe models only when there are controls and hidden vectors.)
//
// For each model: AUROC for pass@G = 0 (never passing ranked above passing) and Spearman's rho
// with the observed pass rate, each with a 95% cluster-bootstrap interval (cluster_bootstrap.h),
// and the paired difference to `length` and to `controls`. The same within strata: each control
// field's values, each exact token count, all controls together, all controls and token count;
// within-stratum AUROC counts only pairs of the same stratum (rank_statistics.h). A stratum with
// fewer than min_stratum_rows rows, or fewer than min_stratum_class of either class, is listed as
// too small and left out.
//
// The headline says in one sentence what the features add beyond the controls (beyond length
// when there are none), with the interval: "they add", "nothing detectable", or "they make it
// worse", by whether the interval of the difference lies above 0, covers it, or lies below.
#ifndef SPARSEGATE_APPS_OFFLINE_EVALUATE_SIGNAL_EVALUATION_H_
#define SPARSEGATE_APPS_OFFLINE_EVALUATE_SIGNAL_EVALUATION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "apps/offline/statistics/cross_fit.h"
#include "nlohmann/json.hpp"
#include "trainer_plugin/features.h"
#include "trainer_plugin/predictor/predictor.h"

namespace sparsegate::offline {

// One control field over all rows: numeric (a value per row) or categorical (a category index
// per row into `categories`).
struct ControlColumn {
  std::string name;
  bool numeric = false;
  std::vector<double> values;
  std::vector<std::string> categories;
  std::vector<int> category_of_row;
};

struct SignalData {
  plugin::FeatureSchema schema;
  std::vector<std::string> ids;
  std::vector<int> group_of_row;  // in [0, groups)
  std::vector<int32_t> successes;
  std::vector<int32_t> trials;    // >= 1
  std::vector<plugin::PromptFeatures> features;  // metrics per schema; hidden optional (all or none)
  std::vector<ControlColumn> controls;

  size_t rows() const { return ids.size(); }
};

struct SignalOptions {
  int folds = 5;
  int bootstrap = 1000;
  uint64_t seed = 0;
  int min_stratum_rows = 20;
  int min_stratum_class = 3;
  int probe_dims = 256;
  // Numeric controls with more distinct values than this are stratified by quintile instead.
  int max_numeric_strata = 20;
  CrossFitOptions fit;
  // The plugin's predictor as the user configured it; absent: not evaluated.
  std::optional<plugin::PredictorConfig> predictor;
};

// The JSON layout:
//   rows: {evaluated, groups, zero_pass, trials: {min, max}}
//   models: [{name, inputs, columns, l2_per_fold (or predictor: sources per fold)}]
//   families: [{family, strata: [{value, rows, zero_pass, eligible}], eligible_strata, too_small,
//               results: [{model, auroc: Interval, spearman: Interval,
//                          auroc_vs_length, spearman_vs_length, auroc_vs_controls, spearman_vs_controls,
//                          per_stratum_auroc: [value or null per stratum]}]}]
//     family "overall" comes first (one stratum: every row).
//   headline: {sentence, baseline, comparisons: [{model, baseline, auroc_difference: Interval, verdict}]}
// Interval: {value, low, high, resamples}. Undefined numbers are null.
absl::StatusOr<nlohmann::json> EvaluateSignal(const SignalData& data, const SignalOptions& options);

// "they add", "nothing detectable" or "they make it worse" for a difference's interval (or
// "undefined" when it has no ends).
std::string Verdict(const nlohmann::json& difference_interval);

}  // namespace sparsegate::offline

#endif  // SPARSEGATE_APPS_OFFLINE_EVALUATE_SIGNAL_EVALUATION_H_

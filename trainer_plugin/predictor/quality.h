// How good a pass-rate predictor is, measured on outcomes it did not train on.
//
// Each outcome is one prompt's group of rollouts: a predicted pass rate and the observed
// successes out of trials. Three numbers summarise a set of them:
//   - AUROC for pass@G = 0: how well 1 - predicted pass rate ranks the groups that got no success
//     above those that got at least one. Ties count half. This is what DROP and GUIDE rely on.
//   - Expected calibration error: predicted pass rates in 10 equal-width bins; per bin the gap
//     between the mean prediction and the mean observed rate (successes / trials); gaps averaged
//     with each bin weighted by its share of groups. Each group weighs one, whatever its trials.
//   - Mean log loss: binomial negative log-likelihood per trial, the proper scoring rule the
//     predictor compares itself against the prior with.
// A number that is undefined for the data (AUROC with only one class, anything on no data) is
// absent rather than NaN.
//
// Written by hand: the formulas are short, and the plugin core takes no statistics dependency.
#ifndef SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_QUALITY_H_
#define SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_QUALITY_H_

#include <cstdint>
#include <optional>
#include <vector>

namespace sparsegate::plugin {

struct ScoredOutcome {
  double predicted_pass_rate = 0;  // in [0, 1]
  int32_t successes = 0;
  int32_t trials = 0;  // >= 1
};

// nullopt unless there is at least one zero-success group and one group with a success.
std::optional<double> ZeroPassAuroc(const std::vector<ScoredOutcome>& outcomes);

// The equal-width bins of predicted pass rates that every calibration number and curve uses (the
// ECE here, the plugin's stats, the filter report), and the bin of a prediction in [0, 1]: a
// prediction of exactly 1 falls in the last bin.
inline constexpr int kCalibrationBins = 10;
int CalibrationBinOf(double p, int bins = kCalibrationBins);

// nullopt on no outcomes. `bins` >= 1.
std::optional<double> ExpectedCalibrationError(const std::vector<ScoredOutcome>& outcomes, int bins = kCalibrationBins);

// Predictions are clipped to [1e-6, 1 - 1e-6] so one confident miss costs a lot but not infinity.
std::optional<double> MeanLogLoss(const std::vector<ScoredOutcome>& outcomes);

struct QualitySummary {
  int64_t groups = 0;
  int64_t zero_pass_groups = 0;
  std::optional<double> zero_pass_auroc;
  std::optional<double> expected_calibration_error;
  std::optional<double> mean_log_loss;
  double mean_predicted_pass_rate = 0;
  double mean_observed_pass_rate = 0;
};

QualitySummary Summarize(const std::vector<ScoredOutcome>& outcomes);

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_QUALITY_H_

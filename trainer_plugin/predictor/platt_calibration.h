// Platt scaling: a predicted pass rate p is recalibrated to sigmoid(slope * logit(p) + intercept),
// the two numbers fitted by binomial likelihood on held-out outcomes (successes out of trials per
// group, each group optionally weighted).
//
// Why Platt and not isotonic regression: the plugin recalibrates on the recent held-out groups
// only (a few dozen to a few hundred), where isotonic regression's step function overfits and
// ties many prompts at one value, which breaks the nearest-target and signal rankings; Platt's
// two parameters are pinned by that much data, keep the ranking of the model they rescale (the
// slope is kept positive), and move the level, which is what drifts while the policy improves.
#ifndef SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_PLATT_CALIBRATION_H_
#define SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_PLATT_CALIBRATION_H_

#include <cstdint>
#include <optional>
#include <vector>

namespace sparsegate::plugin {

struct PlattCalibration {
  double slope = 1;
  double intercept = 0;

  // The recalibrated pass rate, in (0, 1); p is clipped to [1e-6, 1 - 1e-6] first.
  double Apply(double p) const;
  bool operator==(const PlattCalibration& o) const { return slope == o.slope && intercept == o.intercept; }
};

struct CalibrationPoint {
  double predicted_pass_rate = 0;  // in [0, 1]
  double successes = 0;
  double trials = 0;  // > 0
  double weight = 1;  // > 0; multiplies the group's evidence
};

// The maximum-likelihood Platt parameters, with a weak pull (one group's worth of evidence) toward
// the identity map so that a handful of groups cannot swing it far; the slope is floored at 0.05 so
// that the map stays increasing. nullopt when the points hold no success or no failure.
std::optional<PlattCalibration> FitPlatt(const std::vector<CalibrationPoint>& points);

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_PLATT_CALIBRATION_H_

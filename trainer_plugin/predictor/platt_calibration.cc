#include "trainer_plugin/predictor/platt_calibration.h"

#include <algorithm>
#include <cmath>

#include "trainer_plugin/predictor/logistic_regression.h"

namespace sparsegate::plugin {
namespace {

constexpr double kClip = 1e-6;
constexpr double kMinSlope = 0.05;

double Logit(double p) {
  p = std::clamp(p, kClip, 1 - kClip);
  return std::log(p / (1 - p));
}

}  // namespace

double PlattCalibration::Apply(double p) const { return Sigmoid(slope * Logit(p) + intercept); }

std::optional<PlattCalibration> FitPlatt(const std::vector<CalibrationPoint>& points) {
  double successes = 0, failures = 0, trials = 0;
  for (const CalibrationPoint& q : points) {
    successes += q.weight * q.successes;
    failures += q.weight * (q.trials - q.successes);
    trials += q.weight * q.trials;
  }
  if (!(successes > 0) || !(failures > 0)) return std::nullopt;
  // The pull toward the identity map is two pseudo-groups at logits -2 and +2 whose outcomes are
  // the identity's, each worth half a mean group (FitLogistic's L2 would pull the slope toward 0).
  const double mean_trials = trials / static_cast<double>(points.size());
  BinomialData data;
  data.dims = 1;
  for (const CalibrationPoint& q : points) {
    data.x.push_back(Logit(q.predicted_pass_rate));
    data.successes.push_back(q.weight * q.successes);
    data.trials.push_back(q.weight * q.trials);
  }
  for (double z : {-2.0, 2.0}) {
    data.x.push_back(z);
    data.successes.push_back(0.5 * mean_trials * Sigmoid(z));
    data.trials.push_back(0.5 * mean_trials);
  }
  NewtonOptions options;
  options.l2 = {0.0};
  LogisticModel model;
  model.weights = {1.0};  // start at the identity
  if (!FitLogistic(data, options, &model).ok()) return std::nullopt;
  return PlattCalibration{std::max(model.weights[0], kMinSlope), model.intercept};
}

}  // namespace sparsegate::plugin

// A predicted pass rate and which model made it. Kept apart from predictor.h so that the policy,
// which only consumes predictions, does not depend on how they are made.
#ifndef SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_PREDICTION_H_
#define SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_PREDICTION_H_

#include <string_view>

namespace sparsegate::plugin {

enum class PredictionSource {
  kPrior,       // the unsupervised length-binned percentile: a ranking guess, not a probability
  kSupervised,  // the logistic model fitted on observed outcomes
};

inline std::string_view PredictionSourceName(PredictionSource source) {
  return source == PredictionSource::kPrior ? "prior" : "supervised";
}

// The predicted probability that one unhinted rollout of the prompt succeeds under the current
// policy.
struct Prediction {
  double pass_rate = 0;
  PredictionSource source = PredictionSource::kPrior;

  bool operator==(const Prediction& o) const { return pass_rate == o.pass_rate && source == o.source; }
};

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_PREDICTION_H_

// Binomial logistic regression fitted by Newton's method: P(success | x) = sigmoid(b + w . x),
// maximising the likelihood of each row's successes out of trials, minus an L2 penalty
// 0.5 * sum_j l2_j w_j^2 on the weights (never on the intercept b).
//
// The plugin's models have tens to about a hundred and fifty columns, so the exact Hessian
// (rows x dims^2) and a Cholesky solve (dims^3) are cheap and converge in a handful of steps from
// a warm start, with no learning rate to tune. Written by hand because one small positive-definite
// solve does not justify a linear-algebra dependency in a library that is loaded into Python.
//
// The penalty makes the objective strictly convex in w; each Newton step is halved until the
// objective does not increase, so a fit never diverges even when the data separate perfectly.
#ifndef SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_LOGISTIC_REGRESSION_H_
#define SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_LOGISTIC_REGRESSION_H_

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"

namespace sparsegate::plugin {

// Rows of features (row-major, no intercept column) with binomial outcomes.
struct BinomialData {
  size_t dims = 0;
  std::vector<double> x;          // rows() * dims values
  std::vector<double> successes;  // per row, 0 <= successes <= trials
  std::vector<double> trials;     // per row, > 0

  size_t rows() const { return trials.size(); }
  const double* row(size_t i) const { return x.data() + i * dims; }
};

struct LogisticModel {
  double intercept = 0;
  std::vector<double> weights;

  double Logit(const double* x) const;
  double Probability(const double* x) const;
};

struct NewtonOptions {
  std::vector<double> l2;  // one penalty per column, >= 0
  int max_iterations = 25;
  // Stop when a step lowers the objective by less than this fraction of it.
  double relative_tolerance = 1e-10;
};

struct FitReport {
  int iterations = 0;
  bool converged = false;
  double objective = 0;  // negative log-likelihood plus penalty at the returned model
};

// Fits `model` in place, starting from it when its weights have `data.dims` entries (warm start)
// and from zero otherwise. Errors: mismatched sizes, negative penalties, invalid outcomes, or a
// Hessian that is not positive definite (only possible with all-zero trials).
absl::StatusOr<FitReport> FitLogistic(const BinomialData& data, const NewtonOptions& options, LogisticModel* model);

double Sigmoid(double z);

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_LOGISTIC_REGRESSION_H_

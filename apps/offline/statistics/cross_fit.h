// Out-of-fold predicted pass rates, the raw material of `sparsegate evaluate`: every row is
// predicted by a model that never saw its group.
//
// Folds are built from groups (a user-named field: near-duplicates, or variants of one problem),
// so no group is split between training and test. Each model is a binomial logistic regression
// (predictor/logistic_regression.h) on the training folds' standardised columns; its L2 penalty is
// chosen per fold from a grid by an inner grouped cross-validation on the training folds alone
// (held-out binomial log loss), so the test fold never influences it. Penalties are in units of
// groups, as the plugin's predictor counts them: each is multiplied by the mean trials per row.
#ifndef SPARSEGATE_APPS_OFFLINE_STATISTICS_CROSS_FIT_H_
#define SPARSEGATE_APPS_OFFLINE_STATISTICS_CROSS_FIT_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace sparsegate::offline {

struct FoldAssignment {
  int folds = 0;
  std::vector<int> fold_of_row;
};

// Groups in a seeded random order, dealt to `folds` folds in turn; every row goes with its group.
// Fewer groups than folds: as many folds as groups. `group_of_row` values in [0, groups).
FoldAssignment GroupedFolds(const std::vector<int>& group_of_row, int folds, uint64_t seed);

// Rows (row-major, `dims` columns; 0 columns fits the intercept alone) with binomial outcomes.
struct OutcomeMatrix {
  size_t dims = 0;
  std::vector<double> x;
  std::vector<int32_t> successes;
  std::vector<int32_t> trials;
  std::vector<int> group_of_row;

  size_t rows() const { return trials.size(); }
};

struct CrossFitOptions {
  std::vector<double> l2_grid{0.1, 1.0, 10.0, 100.0, 1000.0};
  int inner_folds = 3;
  int max_iterations = 50;
  uint64_t seed = 0;
};

struct CrossFitResult {
  std::vector<double> predicted;     // per row, from the fold that held it out
  std::vector<double> l2_per_fold;   // the penalty each fold chose
};

absl::StatusOr<CrossFitResult> CrossFitLogistic(const OutcomeMatrix& data, const FoldAssignment& folds,
                                                const CrossFitOptions& options);

}  // namespace sparsegate::offline

#endif  // SPARSEGATE_APPS_OFFLINE_STATISTICS_CROSS_FIT_H_

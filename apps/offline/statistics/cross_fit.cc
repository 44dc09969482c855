#include "apps/offline/statistics/cross_fit.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <set>

#include "absl/strings/str_cat.h"
#include "trainer_plugin/predictor/logistic_regression.h"

namespace sparsegate::offline {
namespace {

using plugin::BinomialData;
using plugin::LogisticModel;

struct Standardization {
  std::vector<double> mean, scale;
};

Standardization StandardizeOn(const OutcomeMatrix& data, const std::vector<size_t>& rows) {
  Standardization s{std::vector<double>(data.dims, 0.0), std::vector<double>(data.dims, 1.0)};
  for (size_t j = 0; j < data.dims; ++j) {
    double sum = 0, squares = 0;
    for (size_t i : rows) sum += data.x[i * data.dims + j];
    const double mean = sum / static_cast<double>(rows.size());
    for (size_t i : rows) squares += std::pow(data.x[i * data.dims + j] - mean, 2);
    const double sd = std::sqrt(squares / static_cast<double>(rows.size()));
    s.mean[j] = mean;
    s.scale[j] = sd > 1e-12 ? sd : 1.0;  // a constant column centres to 0 and carries no weight
  }
  return s;
}

void StandardRow(const OutcomeMatrix& data, const Standardization& s, size_t i, double* out) {
  for (size_t j = 0; j < data.dims; ++j) out[j] = (data.x[i * data.dims + j] - s.mean[j]) / s.scale[j];
}

struct Fitted {
  LogisticModel model;
  Standardization standardization;
};

absl::StatusOr<Fitted> FitOn(const OutcomeMatrix& data, const std::vector<size_t>& rows, double l2, int max_iterations) {
  Fitted f{LogisticModel{}, StandardizeOn(data, rows)};
  BinomialData b;
  b.dims = data.dims;
  b.x.resize(rows.size() * data.dims);
  double trials = 0;
  for (size_t k = 0; k < rows.size(); ++k) {
    StandardRow(data, f.standardization, rows[k], b.x.data() + k * data.dims);
    b.successes.push_back(data.successes[rows[k]]);
    b.trials.push_back(data.trials[rows[k]]);
    trials += data.trials[rows[k]];
  }
  plugin::NewtonOptions options;
  options.l2.assign(data.dims, l2 * trials / static_cast<double>(rows.size()));
  options.max_iterations = max_iterations;
  auto report = plugin::FitLogistic(b, options, &f.model);
  if (!report.ok()) return report.status();
  return f;
}

double PredictRow(const Fitted& f, const OutcomeMatrix& data, size_t i) {
  std::vector<double> row(data.dims);
  StandardRow(data, f.standardization, i, row.data());
  return f.model.Probability(row.data());
}

double LogLoss(double p, int32_t successes, int32_t trials) {
  p = std::clamp(p, 1e-6, 1 - 1e-6);
  return -(successes * std::log(p) + (trials - successes) * std::log(1 - p));
}

// Rows of `fold_of_row` equal (or not equal) to `fold`, among `rows`.
std::vector<size_t> Select(const std::vector<size_t>& rows, const std::vector<int>& fold_of_row, int fold, bool in) {
  std::vector<size_t> out;
  for (size_t k = 0; k < rows.size(); ++k) {
    if ((fold_of_row[k] == fold) == in) out.push_back(rows[k]);
  }
  return out;
}

// The grid penalty with the lowest held-out log loss over an inner grouped split of `rows`.
absl::StatusOr<double> ChoosePenalty(const OutcomeMatrix& data, const std::vector<size_t>& rows,
                                     const CrossFitOptions& options, uint64_t seed) {
  if (options.l2_grid.size() == 1) return options.l2_grid[0];
  std::vector<int> groups;
  for (size_t i : rows) groups.push_back(data.group_of_row[i]);
  const FoldAssignment inner = GroupedFolds(groups, options.inner_folds, seed);
  double best = options.l2_grid[0], best_loss = std::numeric_limits<double>::infinity();
  for (double l2 : options.l2_grid) {
    double loss = 0;
    for (int k = 0; k < inner.folds; ++k) {
      std::vector<size_t> train = Select(rows, inner.fold_of_row, k, false), test = Select(rows, inner.fold_of_row, k, true);
      if (train.empty() || test.empty()) continue;
      auto fit = FitOn(data, train, l2, options.max_iterations);
      if (!fit.ok()) return fit.status();
      for (size_t i : test) loss += LogLoss(PredictRow(*fit, data, i), data.successes[i], data.trials[i]);
    }
    if (loss < best_loss) best_loss = loss, best = l2;
  }
  return best;
}

}  // namespace

FoldAssignment GroupedFolds(const std::vector<int>& group_of_row, int folds, uint64_t seed) {
  std::set<int> present(group_of_row.begin(), group_of_row.end());
  std::vector<int> order(present.begin(), present.end());
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
  FoldAssignment out;
  out.folds = std::max(1, std::min<int>(folds, static_cast<int>(order.size())));
  std::vector<int> fold_of_group(order.empty() ? 0 : 1 + *present.rbegin(), 0);
  for (size_t k = 0; k < order.size(); ++k) fold_of_group[order[k]] = static_cast<int>(k % out.folds);
  for (int g : group_of_row) out.fold_of_row.push_back(fold_of_group[g]);
  return out;
}

absl::StatusOr<CrossFitResult> CrossFitLogistic(const OutcomeMatrix& data, const FoldAssignment& folds,
                                                const CrossFitOptions& options) {
  if (data.x.size() != data.rows() * data.dims || data.successes.size() != data.rows() ||
      data.group_of_row.size() != data.rows() || folds.fold_of_row.size() != data.rows()) {
    return absl::InvalidArgumentError("cross-fit: rows, columns, outcomes, groups and folds disagree in size");
  }
  if (options.l2_grid.empty()) return absl::InvalidArgumentError("cross-fit: empty L2 grid");
  if (folds.folds < 2) return absl::InvalidArgumentError("cross-fit: fewer than 2 groups, nothing to hold out");
  CrossFitResult out;
  out.predicted.assign(data.rows(), 0.0);
  std::vector<size_t> all(data.rows());
  std::iota(all.begin(), all.end(), 0);
  for (int k = 0; k < folds.folds; ++k) {
    std::vector<size_t> train = Select(all, folds.fold_of_row, k, false), test = Select(all, folds.fold_of_row, k, true);
    auto l2 = ChoosePenalty(data, train, options, options.seed + 1000003ULL * (k + 1));
    if (!l2.ok()) return l2.status();
    auto fit = FitOn(data, train, *l2, options.max_iterations);
    if (!fit.ok()) return fit.status();
    for (size_t i : test) out.predicted[i] = PredictRow(*fit, data, i);
    out.l2_per_fold.push_back(*l2);
  }
  return out;
}

}  // namespace sparsegate::offline

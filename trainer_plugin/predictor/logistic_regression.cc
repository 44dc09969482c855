#include "trainer_plugin/predictor/logistic_regression.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace sparsegate::plugin {
namespace {

// log(1 + e^z) without overflow for large |z|.
double Softplus(double z) { return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z)); }

// theta = (b, w_1 .. w_d): the intercept first, as in the Hessian below.
double LogitOf(const std::vector<double>& theta, const double* x, size_t dims) {
  double z = theta[0];
  for (size_t j = 0; j < dims; ++j) z += theta[j + 1] * x[j];
  return z;
}

// Negative log-likelihood plus penalty: sum_i [n_i softplus(z_i) - s_i z_i] + 0.5 sum_j l2_j w_j^2.
double Objective(const BinomialData& data, const std::vector<double>& l2, const std::vector<double>& theta) {
  double f = 0;
  for (size_t i = 0; i < data.rows(); ++i) {
    const double z = LogitOf(theta, data.row(i), data.dims);
    f += data.trials[i] * Softplus(z) - data.successes[i] * z;
  }
  for (size_t j = 0; j < data.dims; ++j) f += 0.5 * l2[j] * theta[j + 1] * theta[j + 1];
  return f;
}

// Solves A x = b in place for symmetric positive-definite A (n x n, row-major) by Cholesky.
// Returns false when A is not positive definite.
bool CholeskySolve(std::vector<double>& a, std::vector<double>& b, size_t n) {
  for (size_t j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (size_t k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
    if (!(d > 0)) return false;
    const double l_jj = std::sqrt(d);
    a[j * n + j] = l_jj;
    for (size_t i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (size_t k = 0; k < j; ++k) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / l_jj;
    }
  }
  for (size_t i = 0; i < n; ++i) {  // L y = b
    double s = b[i];
    for (size_t k = 0; k < i; ++k) s -= a[i * n + k] * b[k];
    b[i] = s / a[i * n + i];
  }
  for (size_t i = n; i-- > 0;) {  // L^T x = y
    double s = b[i];
    for (size_t k = i + 1; k < n; ++k) s -= a[k * n + i] * b[k];
    b[i] = s / a[i * n + i];
  }
  return true;
}

}  // namespace

double Sigmoid(double z) {
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1.0 + e);
}

double LogisticModel::Logit(const double* x) const {
  double z = intercept;
  for (size_t j = 0; j < weights.size(); ++j) z += weights[j] * x[j];
  return z;
}

double LogisticModel::Probability(const double* x) const { return Sigmoid(Logit(x)); }

absl::StatusOr<FitReport> FitLogistic(const BinomialData& data, const NewtonOptions& options, LogisticModel* model) {
  const size_t d = data.dims;
  const size_t n = d + 1;
  if (data.x.size() != data.rows() * d || data.successes.size() != data.rows()) {
    return absl::InvalidArgumentError(absl::StrCat("logistic fit: ", data.rows(), " rows of trials but ",
                                                   data.successes.size(), " of successes and ", data.x.size(),
                                                   " feature values for ", d, " columns"));
  }
  if (options.l2.size() != d) {
    return absl::InvalidArgumentError(
        absl::StrCat("logistic fit: ", options.l2.size(), " penalties for ", d, " columns"));
  }
  for (size_t j = 0; j < d; ++j) {
    if (!(options.l2[j] >= 0)) return absl::InvalidArgumentError(absl::StrCat("logistic fit: penalty ", j, " is negative"));
  }
  for (size_t i = 0; i < data.rows(); ++i) {
    if (!(data.trials[i] > 0) || !(data.successes[i] >= 0) || data.successes[i] > data.trials[i]) {
      return absl::InvalidArgumentError(absl::StrCat("logistic fit: row ", i, " has ", data.successes[i],
                                                     " successes out of ", data.trials[i], " trials"));
    }
  }

  std::vector<double> theta(n, 0.0);
  if (model->weights.size() == d) {
    theta[0] = model->intercept;
    std::copy(model->weights.begin(), model->weights.end(), theta.begin() + 1);
  }

  FitReport report;
  double f = Objective(data, options.l2, theta);
  std::vector<double> hessian(n * n), step(n), candidate(n), xi(n);
  for (report.iterations = 0; report.iterations < options.max_iterations;) {
    std::fill(hessian.begin(), hessian.end(), 0.0);
    std::fill(step.begin(), step.end(), 0.0);  // the gradient, solved into the step below
    for (size_t i = 0; i < data.rows(); ++i) {
      xi[0] = 1.0;
      std::copy(data.row(i), data.row(i) + d, xi.begin() + 1);
      const double p = Sigmoid(LogitOf(theta, data.row(i), d));
      const double residual = data.trials[i] * p - data.successes[i];
      const double weight = data.trials[i] * p * (1 - p);
      for (size_t a = 0; a < n; ++a) {
        step[a] += residual * xi[a];
        const double wa = weight * xi[a];
        for (size_t b = 0; b <= a; ++b) hessian[a * n + b] += wa * xi[b];
      }
    }
    for (size_t j = 0; j < d; ++j) {
      step[j + 1] += options.l2[j] * theta[j + 1];
      hessian[(j + 1) * n + (j + 1)] += options.l2[j];
    }
    for (size_t a = 0; a < n; ++a) {
      // A tiny ridge keeps the solve defined when a column is constant and unpenalised.
      hessian[a * n + a] += 1e-10 * (1.0 + hessian[a * n + a]);
      for (size_t b = 0; b < a; ++b) hessian[b * n + a] = hessian[a * n + b];
    }
    if (!CholeskySolve(hessian, step, n)) {
      return absl::InternalError("logistic fit: the Hessian is not positive definite (are all trials zero?)");
    }

    ++report.iterations;
    double scale = 1.0, f_new = f;
    bool improved = false;
    for (int halvings = 0; halvings < 40; ++halvings, scale *= 0.5) {
      for (size_t a = 0; a < n; ++a) candidate[a] = theta[a] - scale * step[a];
      f_new = Objective(data, options.l2, candidate);
      if (std::isfinite(f_new) && f_new <= f) {
        improved = true;
        break;
      }
    }
    if (!improved) {  // already at the minimum to machine precision
      report.converged = true;
      break;
    }
    const double decrease = f - f_new;
    theta.swap(candidate);
    f = f_new;
    if (decrease <= options.relative_tolerance * (1.0 + std::abs(f))) {
      report.converged = true;
      break;
    }
  }
  report.objective = f;
  model->intercept = theta[0];
  model->weights.assign(theta.begin() + 1, theta.end());
  return report;
}

}  // namespace sparsegate::plugin

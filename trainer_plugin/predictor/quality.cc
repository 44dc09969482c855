#include "trainer_plugin/predictor/quality.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sparsegate::plugin {

std::optional<double> ZeroPassAuroc(const std::vector<ScoredOutcome>& outcomes) {
  // Mann-Whitney: sort by score, give tied scores their mean rank, and the AUROC is
  // (rank sum of positives - n_pos (n_pos + 1) / 2) / (n_pos n_neg). O(n log n), ties count half.
  const size_t n = outcomes.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  auto score = [&](size_t i) { return 1.0 - outcomes[i].predicted_pass_rate; };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score(a) < score(b); });

  double positive_rank_sum = 0;
  int64_t positives = 0;
  for (size_t start = 0; start < n;) {
    size_t end = start;
    while (end < n && score(order[end]) == score(order[start])) ++end;
    const double mean_rank = 0.5 * static_cast<double>(start + 1 + end);  // ranks start+1 .. end
    for (size_t k = start; k < end; ++k) {
      if (outcomes[order[k]].successes == 0) {
        positive_rank_sum += mean_rank;
        ++positives;
      }
    }
    start = end;
  }
  const int64_t negatives = static_cast<int64_t>(n) - positives;
  if (positives == 0 || negatives == 0) return std::nullopt;
  const double p = static_cast<double>(positives);
  return (positive_rank_sum - p * (p + 1) / 2) / (p * static_cast<double>(negatives));
}

int CalibrationBinOf(double p, int bins) { return std::clamp(static_cast<int>(p * bins), 0, bins - 1); }

std::optional<double> ExpectedCalibrationError(const std::vector<ScoredOutcome>& outcomes, int bins) {
  if (outcomes.empty() || bins < 1) return std::nullopt;
  std::vector<double> predicted_sum(bins, 0), observed_sum(bins, 0);
  std::vector<int64_t> count(bins, 0);
  for (const ScoredOutcome& o : outcomes) {
    const double p = std::clamp(o.predicted_pass_rate, 0.0, 1.0);
    const int b = CalibrationBinOf(p, bins);
    predicted_sum[b] += p;
    observed_sum[b] += static_cast<double>(o.successes) / o.trials;
    ++count[b];
  }
  double ece = 0;
  for (int b = 0; b < bins; ++b) {
    if (count[b] == 0) continue;
    ece += std::abs(predicted_sum[b] - observed_sum[b]) / static_cast<double>(outcomes.size());
  }
  return ece;
}

std::optional<double> MeanLogLoss(const std::vector<ScoredOutcome>& outcomes) {
  double loss = 0, trials = 0;
  for (const ScoredOutcome& o : outcomes) {
    const double p = std::clamp(o.predicted_pass_rate, 1e-6, 1 - 1e-6);
    loss -= o.successes * std::log(p) + (o.trials - o.successes) * std::log1p(-p);
    trials += o.trials;
  }
  if (trials == 0) return std::nullopt;
  return loss / trials;
}

QualitySummary Summarize(const std::vector<ScoredOutcome>& outcomes) {
  QualitySummary s;
  s.groups = static_cast<int64_t>(outcomes.size());
  double predicted = 0, observed = 0;
  for (const ScoredOutcome& o : outcomes) {
    if (o.successes == 0) ++s.zero_pass_groups;
    predicted += o.predicted_pass_rate;
    observed += static_cast<double>(o.successes) / o.trials;
  }
  if (s.groups > 0) {
    s.mean_predicted_pass_rate = predicted / static_cast<double>(s.groups);
    s.mean_observed_pass_rate = observed / static_cast<double>(s.groups);
  }
  s.zero_pass_auroc = ZeroPassAuroc(outcomes);
  s.expected_calibration_error = ExpectedCalibrationError(outcomes);
  s.mean_log_loss = MeanLogLoss(outcomes);
  return s;
}

}  // namespace sparsegate::plugin

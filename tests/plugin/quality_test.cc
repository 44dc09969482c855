// The hand-written numerics: AUROC, calibration error and log loss against values worked out by
// hand; the Newton logistic fit against its optimality conditions; the prior's percentiles; the
// hidden-vector projection's determinism and invariances.
#include <gtest/gtest.h>

#include <cmath>

#include "trainer_plugin/predictor/hidden_projection.h"
#include "trainer_plugin/predictor/length_binned_prior.h"
#include "trainer_plugin/predictor/logistic_regression.h"
#include "trainer_plugin/predictor/quality.h"

namespace sparsegate::plugin {
namespace {

TEST(Auroc, CountsCorrectlyOrderedPairs) {
  // Positives (no success) A, B; negatives C, D. Scores are 1 - prediction: A .9, B .6, C .7, D .2.
  // Pairs: (A,C) yes, (A,D) yes, (B,C) no, (B,D) yes -> 3/4.
  const std::vector<ScoredOutcome> outcomes = {{0.1, 0, 8}, {0.4, 0, 8}, {0.3, 2, 8}, {0.8, 5, 8}};
  ASSERT_TRUE(ZeroPassAuroc(outcomes).has_value());
  EXPECT_DOUBLE_EQ(*ZeroPassAuroc(outcomes), 0.75);
}

TEST(Auroc, TiesCountHalf) {
  // Adds negative E tied with B: A beats C, D, E (3); B loses to C, beats D, ties E (1.5): 4.5 / 6.
  const std::vector<ScoredOutcome> outcomes = {{0.1, 0, 8}, {0.4, 0, 8}, {0.3, 2, 8}, {0.8, 5, 8}, {0.4, 3, 8}};
  EXPECT_DOUBLE_EQ(*ZeroPassAuroc(outcomes), 0.75);
  const std::vector<ScoredOutcome> all_tied = {{0.5, 0, 4}, {0.5, 1, 4}, {0.5, 0, 4}, {0.5, 4, 4}};
  EXPECT_DOUBLE_EQ(*ZeroPassAuroc(all_tied), 0.5);
}

TEST(Auroc, PerfectAndReversedRankings) {
  EXPECT_DOUBLE_EQ(*ZeroPassAuroc({{0.1, 0, 8}, {0.2, 0, 8}, {0.7, 3, 8}}), 1.0);
  EXPECT_DOUBLE_EQ(*ZeroPassAuroc({{0.9, 0, 8}, {0.8, 0, 8}, {0.1, 3, 8}}), 0.0);
}

TEST(Auroc, UndefinedWithOneClass) {
  EXPECT_FALSE(ZeroPassAuroc({}).has_value());
  EXPECT_FALSE(ZeroPassAuroc({{0.1, 0, 8}, {0.2, 0, 8}}).has_value());
  EXPECT_FALSE(ZeroPassAuroc({{0.1, 1, 8}, {0.2, 8, 8}}).has_value());
}

TEST(CalibrationError, MatchesHandComputation) {
  // bin 0: prediction .05, observed 0 -> gap .05 (1 group)
  // bin 1: predictions .15, .12 (mean .135), observed .25, 0 (mean .125) -> gap .01 (2 groups)
  // bin 9: predictions .95, 1.0 (mean .975), observed 1, .5 (mean .75) -> gap .225 (2 groups)
  // ECE = (1 * .05 + 2 * .01 + 2 * .225) / 5 = .104
  const std::vector<ScoredOutcome> outcomes = {{0.05, 0, 4}, {0.15, 1, 4}, {0.12, 0, 2}, {0.95, 4, 4}, {1.0, 2, 4}};
  ASSERT_TRUE(ExpectedCalibrationError(outcomes).has_value());
  EXPECT_NEAR(*ExpectedCalibrationError(outcomes), 0.104, 1e-12);
  EXPECT_FALSE(ExpectedCalibrationError({}).has_value());
  EXPECT_NEAR(*ExpectedCalibrationError({{0.25, 1, 4}, {0.75, 3, 4}}), 0.0, 1e-12);
}

TEST(LogLoss, PerTrialBinomial) {
  EXPECT_NEAR(*MeanLogLoss({{0.5, 1, 2}}), std::log(2.0), 1e-12);
  // -(3 log .75 + 1 log .25) / 4
  EXPECT_NEAR(*MeanLogLoss({{0.75, 3, 4}}), -(3 * std::log(0.75) + std::log(0.25)) / 4, 1e-12);
  EXPECT_FALSE(MeanLogLoss({}).has_value());
}

TEST(QualitySummary, CountsAndMeans) {
  const QualitySummary s = Summarize({{0.1, 0, 8}, {0.4, 0, 8}, {0.3, 2, 8}, {0.8, 6, 8}});
  EXPECT_EQ(s.groups, 4);
  EXPECT_EQ(s.zero_pass_groups, 2);
  EXPECT_DOUBLE_EQ(s.mean_predicted_pass_rate, 0.4);
  EXPECT_DOUBLE_EQ(s.mean_observed_pass_rate, 0.25);
}

TEST(LogisticRegression, MeetsOptimalityConditions) {
  // Two columns, 200 rows with a known structure.
  BinomialData data;
  data.dims = 2;
  for (int i = 0; i < 200; ++i) {
    const double a = std::sin(i * 0.37), b = std::cos(i * 0.11);
    data.x.push_back(a);
    data.x.push_back(b);
    const double p = Sigmoid(0.3 + 2.0 * a - 1.0 * b);
    data.trials.push_back(8);
    data.successes.push_back(std::round(8 * p));
  }
  NewtonOptions options;
  options.l2 = {0.5, 0.5};
  LogisticModel model;
  absl::StatusOr<FitReport> report = FitLogistic(data, options, &model);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->converged);
  EXPECT_LE(report->iterations, 10);
  // At the optimum the gradient vanishes: sum(n p - s) = 0 (unpenalised intercept) and
  // sum((n p - s) x_j) + l2_j w_j = 0.
  double g0 = 0, g1 = 0, g2 = 0;
  for (size_t i = 0; i < data.rows(); ++i) {
    const double r = data.trials[i] * model.Probability(data.row(i)) - data.successes[i];
    g0 += r;
    g1 += r * data.row(i)[0];
    g2 += r * data.row(i)[1];
  }
  EXPECT_NEAR(g0, 0, 1e-6);
  EXPECT_NEAR(g1 + 0.5 * model.weights[0], 0, 1e-6);
  EXPECT_NEAR(g2 + 0.5 * model.weights[1], 0, 1e-6);
  EXPECT_NEAR(model.weights[0], 2.0, 0.3);
  EXPECT_NEAR(model.weights[1], -1.0, 0.3);

  // A warm start from the optimum converges at once.
  absl::StatusOr<FitReport> again = FitLogistic(data, options, &model);
  ASSERT_TRUE(again.ok());
  EXPECT_LE(again->iterations, 2);
}

TEST(LogisticRegression, SeparableDataStaysFinite) {
  BinomialData data;
  data.dims = 1;
  for (int i = 0; i < 20; ++i) {
    data.x.push_back(i < 10 ? -1.0 - i : 1.0 + i);
    data.trials.push_back(4);
    data.successes.push_back(i < 10 ? 0 : 4);
  }
  NewtonOptions options;
  options.l2 = {0.1};
  LogisticModel model;
  absl::StatusOr<FitReport> report = FitLogistic(data, options, &model);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(std::isfinite(model.weights[0]));
  EXPECT_GT(model.weights[0], 0);
}

TEST(LogisticRegression, RejectsBadInput) {
  BinomialData data;
  data.dims = 1;
  data.x = {1.0};
  data.trials = {2};
  data.successes = {3};
  NewtonOptions options;
  options.l2 = {1.0};
  LogisticModel model;
  EXPECT_EQ(FitLogistic(data, options, &model).status().code(), absl::StatusCode::kInvalidArgument);
  options.l2 = {};
  data.successes = {1};
  EXPECT_EQ(FitLogistic(data, options, &model).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LengthBinnedPrior, PercentileWithinLengthBin) {
  PriorConfig config;
  config.length_bins = 2;
  config.min_prompts_per_bin = 2;
  LengthBinnedPrior prior(config);
  // Short prompts (log length 1) have metrics 1..4, long ones (log length 5) have 10..40.
  prior.Rebuild({{1, 1}, {1, 2}, {1, 3}, {1, 4}, {5, 10}, {5, 20}, {5, 30}, {5, 40}});
  EXPECT_EQ(prior.bin_count(), 2u);
  // A short prompt with metric 3: 2 below, 1 equal, of 4 -> (2 + .5) / 4.
  EXPECT_DOUBLE_EQ(prior.Percentile(1, 3), 0.625);
  // The same metric value among long prompts is the lowest.
  EXPECT_DOUBLE_EQ(prior.Percentile(5, 3), 0.0);
  EXPECT_DOUBLE_EQ(prior.Percentile(5, 45), 1.0);
  // Higher is harder by default: the hardest maps to hardest_pass_rate.
  EXPECT_NEAR(prior.PassRate(5, 45), config.hardest_pass_rate, 1e-12);
  EXPECT_NEAR(prior.PassRate(5, 3), config.easiest_pass_rate, 1e-12);

  config.direction = PriorDirection::kLowerIsHarder;
  LengthBinnedPrior flipped(config);
  flipped.Rebuild({{1, 1}, {1, 2}, {1, 3}, {1, 4}, {5, 10}, {5, 20}, {5, 30}, {5, 40}});
  EXPECT_NEAR(flipped.PassRate(5, 45), config.easiest_pass_rate, 1e-12);
}

TEST(LengthBinnedPrior, SmallOrEmptyReference) {
  PriorConfig config;
  LengthBinnedPrior prior(config);
  EXPECT_DOUBLE_EQ(prior.Percentile(3, 0.4), 0.5);
  prior.Rebuild({{1, 1}, {2, 2}, {3, 3}});  // fewer than min_prompts_per_bin: one bin
  EXPECT_EQ(prior.bin_count(), 1u);
  EXPECT_DOUBLE_EQ(prior.Percentile(9, 2), 0.5);
}

TEST(HiddenProjection, DeterministicScaleFreeAndExcludesChannels) {
  HiddenProjection projection(64, 42, {3});
  std::vector<float> h(300);
  for (size_t c = 0; c < h.size(); ++c) h[c] = static_cast<float>(std::sin(c * 0.7));
  const std::vector<float> a = projection.Project(h);
  ASSERT_EQ(a.size(), 64u);
  EXPECT_EQ(a, projection.Project(h));
  EXPECT_EQ(a, HiddenProjection(64, 42, {3}).Project(h));

  std::vector<float> scaled = h;
  for (float& v : scaled) v *= 4.0f;
  const std::vector<float> b = projection.Project(scaled);
  for (int k = 0; k < 64; ++k) EXPECT_NEAR(a[k], b[k], 1e-5);

  std::vector<float> massive = h;
  massive[3] = 1e6f;  // an excluded massive-activation channel changes nothing
  const std::vector<float> c = projection.Project(massive);
  for (int k = 0; k < 64; ++k) EXPECT_NEAR(a[k], c[k], 1e-5);

  EXPECT_NE(a, HiddenProjection(64, 43, {3}).Project(h));
  EXPECT_EQ(projection.Project(std::vector<float>(300, 0.0f)), std::vector<float>(64, 0.0f));
}

}  // namespace
}  // namespace sparsegate::plugin

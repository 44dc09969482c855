// The weighted, stratified rank statistics and the cluster bootstrap behind `sparsegate evaluate`:
// known values, weights as repetitions, pairs only within strata, and intervals that cover.
#include "apps/offline/statistics/rank_statistics.h"

#include <gtest/gtest.h>

#include <random>

#include "apps/offline/statistics/cluster_bootstrap.h"
#include "apps/offline/statistics/cross_fit.h"

namespace sparsegate::offline {
namespace {

TEST(RankStatisticsTest, AurocCountsPairsAndHalvesTies) {
  // positives score 3, 2; negatives 2, 1: pairs (3>2, 3>1, 2=2 half, 2>1) = 3.5 of 4.
  StratifiedRanking r({3, 2, 2, 1});
  EXPECT_DOUBLE_EQ(*r.Auroc({1, 1, 0, 0}, {1, 1, 1, 1}), 3.5 / 4);
  EXPECT_FALSE(r.Auroc({1, 1, 1, 1}, {1, 1, 1, 1}).has_value());
}

TEST(RankStatisticsTest, WeightsAreRepetitions) {
  StratifiedRanking weighted({0.9, 0.4, 0.6, 0.1});
  StratifiedRanking repeated({0.9, 0.9, 0.9, 0.4, 0.6, 0.6, 0.1});
  const std::vector<uint8_t> pos = {1, 0, 1, 0}, pos_rep = {1, 1, 1, 0, 1, 1, 0};
  EXPECT_DOUBLE_EQ(*weighted.Auroc(pos, {3, 1, 2, 1}), *repeated.Auroc(pos_rep, std::vector<double>(7, 1)));
  // A weight of zero removes the row.
  StratifiedRanking without({0.9, 0.6, 0.1});
  EXPECT_DOUBLE_EQ(*weighted.Auroc(pos, {1, 0, 1, 1}), *without.Auroc({1, 1, 0}, {1, 1, 1}));
}

TEST(RankStatisticsTest, StrataCompareOnlyWithinAStratum) {
  // The score separates the strata perfectly but ranks backwards inside each: overall AUROC is
  // high, within strata it is 0.
  const std::vector<double> score = {10, 11, 12, 13, 0, 1, 2, 3};
  const std::vector<int> stratum = {0, 0, 0, 0, 1, 1, 1, 1};
  const std::vector<uint8_t> pos = {0, 0, 1, 1, 0, 0, 1, 1};  // the higher two of each stratum
  const std::vector<double> w(8, 1);
  StratifiedRanking within(score, stratum);
  EXPECT_DOUBLE_EQ(*within.Auroc(pos, w), 1.0);
  const std::vector<uint8_t> backwards = {1, 1, 0, 0, 1, 1, 0, 0};
  EXPECT_DOUBLE_EQ(*within.Auroc(backwards, w), 0.0);
  StratifiedRanking overall(score);
  const std::vector<uint8_t> by_stratum = {1, 1, 1, 1, 0, 0, 0, 0};
  EXPECT_DOUBLE_EQ(*overall.Auroc(by_stratum, w), 1.0);
  EXPECT_FALSE(within.Auroc(by_stratum, w).has_value());  // no stratum holds both classes
  // An ineligible stratum is left out.
  EXPECT_DOUBLE_EQ(*within.Auroc({0, 0, 1, 1, 1, 1, 0, 0}, w, {1, 0}), 1.0);
}

TEST(RankStatisticsTest, SpearmanOfMonotoneAndReversedColumns) {
  const std::vector<double> x = {1, 2, 3, 4, 5}, y = {10, 20, 30, 45, 100}, z = {5, 4, 3, 2, 1};
  const std::vector<double> w(5, 1);
  EXPECT_NEAR(*Spearman(StratifiedRanking(x), StratifiedRanking(y), w), 1.0, 1e-12);
  EXPECT_NEAR(*Spearman(StratifiedRanking(x), StratifiedRanking(z), w), -1.0, 1e-12);
  EXPECT_FALSE(Spearman(StratifiedRanking(x), StratifiedRanking({1, 1, 1, 1, 1}), w).has_value());
}

TEST(ClusterBootstrapTest, IntervalsCoverAndDifferencesArePaired) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise;
  const int n = 400;
  std::vector<double> score(n), other(n);
  std::vector<uint8_t> pos(n);
  std::vector<int> cluster(n);
  for (int i = 0; i < n; ++i) {
    pos[i] = i % 2;
    score[i] = pos[i] + noise(rng);
    other[i] = score[i];
    cluster[i] = i / 2;  // pairs of rows move together
  }
  auto ranking = std::make_shared<StratifiedRanking>(score);
  WeightedStatistic auroc = [ranking, pos](const std::vector<double>& w) { return ranking->Auroc(pos, w); };
  std::vector<Interval> out = ClusterBootstrap(cluster, 300, 7, {auroc, Difference(auroc, auroc)});
  ASSERT_TRUE(out[0].low && out[0].high);
  EXPECT_LT(*out[0].low, *out[0].value);
  EXPECT_GT(*out[0].high, *out[0].value);
  EXPECT_GT(*out[0].low, 0.6);  // a unit shift of the mean gives AUROC ~0.76
  EXPECT_EQ(out[0].resamples, 300);
  EXPECT_DOUBLE_EQ(*out[1].low, 0.0);  // the same statistic on the same resamples
  EXPECT_DOUBLE_EQ(*out[1].high, 0.0);
  // Deterministic from the seed.
  std::vector<Interval> again = ClusterBootstrap(cluster, 300, 7, {auroc});
  EXPECT_EQ(*again[0].low, *out[0].low);
}

TEST(CrossFitTest, GroupsNeverSplitAcrossFolds) {
  std::vector<int> group;
  for (int g = 0; g < 30; ++g)
    for (int k = 0; k < 1 + g % 3; ++k) group.push_back(g);
  FoldAssignment folds = GroupedFolds(group, 5, 11);
  ASSERT_EQ(folds.folds, 5);
  std::vector<int> fold_of_group(30, -1);
  std::vector<int> rows_per_fold(5, 0);
  for (size_t i = 0; i < group.size(); ++i) {
    if (fold_of_group[group[i]] < 0) fold_of_group[group[i]] = folds.fold_of_row[i];
    EXPECT_EQ(fold_of_group[group[i]], folds.fold_of_row[i]);
    rows_per_fold[folds.fold_of_row[i]] += 1;
  }
  for (int r : rows_per_fold) EXPECT_GT(r, 0);
  EXPECT_EQ(GroupedFolds({0, 0, 1}, 5, 1).folds, 2);  // no more folds than groups
}

}  // namespace
}  // namespace sparsegate::offline

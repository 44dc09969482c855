// SelectNearestPassRate and SelectCandidates (selection.h): nearest the target first, the chance
// of a group with signal, Thompson draws; never a skipped prompt, input order kept. The Beta
// posterior (pass_rate_posterior.h) against values worked out by hand, and the plugin's expected
// pass rate and posterior following the prompt's own last group.
#include "trainer_plugin/selection.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "synthetic.h"
#include "trainer_plugin/policy/rollout_cost.h"
#include "trainer_sim.h"

namespace sparsegate::plugin {
namespace {

Decision Made(DecisionKind kind, std::optional<double> expected) {
  Decision d;
  d.kind = kind;
  d.expected_pass_rate = expected;
  return d;
}

using Indices = std::vector<size_t>;

TEST(SelectNearestPassRate, TakesTheNearestToTheTargetInInputOrder) {
  const std::vector<Decision> d = {Made(DecisionKind::kKeep, 0.95), Made(DecisionKind::kKeep, 0.45),
                                   Made(DecisionKind::kGuide, 0.1), Made(DecisionKind::kKeep, 0.6),
                                   Made(DecisionKind::kKeep, 0.0)};
  EXPECT_EQ(SelectNearestPassRate(d, 2), (Indices{1, 3}));
  EXPECT_EQ(SelectNearestPassRate(d, 3), (Indices{1, 2, 3}));
  EXPECT_EQ(SelectNearestPassRate(d, 1, /*target=*/0.9), (Indices{0}));
}

TEST(SelectNearestPassRate, NeverChoosesDropOrDeferAndReturnsFewerWhenShort) {
  const std::vector<Decision> d = {Made(DecisionKind::kDrop, 0.5), Made(DecisionKind::kDefer, 0.5),
                                   Made(DecisionKind::kKeep, 0.99)};
  EXPECT_EQ(SelectNearestPassRate(d, 2), (Indices{2}));
}

TEST(SelectNearestPassRate, UnknownExpectationsComeLastInInputOrder) {
  const std::vector<Decision> d = {Made(DecisionKind::kKeep, std::nullopt), Made(DecisionKind::kKeep, 0.99),
                                   Made(DecisionKind::kKeep, std::nullopt)};
  EXPECT_EQ(SelectNearestPassRate(d, 2), (Indices{0, 1}));
  EXPECT_EQ(SelectNearestPassRate(d, 1), (Indices{1}));
}

TEST(ExpectedPassRate, IsThePredictionUntilAGroupAtTheRungIsObservedThenWeighsItIn) {
  auto plugin = TrainerPlugin::Create(testing::SyntheticSchema());
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  const std::vector<PromptInfo> batch = {{"p", "What is 2 + 2?", std::nullopt}};
  const std::vector<PromptFeatures> features = {testing::SyntheticWorld{}.Prompt("p", 0).features};
  auto first = (*plugin)->Decide(batch, features);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*first)[0].prediction);
  EXPECT_DOUBLE_EQ(*(*first)[0].expected_pass_rate, (*first)[0].prediction->pass_rate);
  ASSERT_TRUE((*plugin)->Observe("p", {1, 1, 0, 0, 0, 0, 0, 0}).ok());
  auto second = (*plugin)->Decide(batch, features);
  ASSERT_TRUE(second.ok());
  const double predicted = (*second)[0].prediction->pass_rate;  // 2 of 8 on a prior worth 8 rollouts
  EXPECT_DOUBLE_EQ(*(*second)[0].expected_pass_rate, (2 + 8 * predicted) / 16);
}

Decision WithPosterior(DecisionKind kind, double alpha, double beta) {
  Decision d = Made(kind, alpha / (alpha + beta));
  d.pass_rate_posterior = PassRatePosterior{alpha, beta};
  return d;
}

TEST(PassRatePosterior, HasTheKnownMomentsAndSignalProbabilities) {
  // Uniform: E[p^8] = 1/9, so a group of 8 has signal with probability 1 - 2/9 = 7/9.
  const PassRatePosterior uniform{1, 1};
  EXPECT_DOUBLE_EQ(uniform.Mean(), 0.5);
  EXPECT_DOUBLE_EQ(uniform.Variance(), 1.0 / 12);
  EXPECT_NEAR(uniform.SignalProbability(8), 7.0 / 9, 1e-12);
  EXPECT_DOUBLE_EQ(uniform.SignalProbability(1), 0);  // one rollout never has both outcomes
  // Beta(2, 1): E[p^2] = 2/3 * 3/4 = 1/2, E[(1-p)^2] = 1/3 * 2/4 = 1/6: signal 1/3 at G = 2.
  EXPECT_NEAR((PassRatePosterior{2, 1}).SignalProbability(2), 1.0 / 3, 1e-12);
  // Nearly certain of p = 0.5: the binomial value 1 - 2 * 0.5^8.
  EXPECT_NEAR((PassRatePosterior{1e7, 1e7}).SignalProbability(8), 1 - 2 * std::pow(0.5, 8), 1e-5);
  // Nearly certain of p = 0.98: 1 - 0.98^8 - 0.02^8.
  EXPECT_NEAR((PassRatePosterior{9.8e6, 2e5}).SignalProbability(8), 1 - std::pow(0.98, 8), 1e-5);
}

TEST(PassRatePosterior, PosteriorFromAddsTheEvidenceToAPriorWorthItsRollouts) {
  const PassRatePosterior p = PosteriorFrom(/*prior_mean=*/0.5, /*prior_rollouts=*/8, /*successes=*/8, /*trials=*/8);
  EXPECT_DOUBLE_EQ(p.alpha, 12);
  EXPECT_DOUBLE_EQ(p.beta, 4);
  EXPECT_DOUBLE_EQ(p.Mean(), 0.75);  // the figure PolicyConfig::expectation_prior_rollouts states
  // A prediction of exactly 0 with nothing seen stays a proper Beta, close to 0.
  const PassRatePosterior zero = PosteriorFrom(0, 8, 0, 0);
  EXPECT_GT(zero.alpha, 0);
  EXPECT_LT(zero.Mean(), 2e-3);
}

TEST(PassRatePosterior, SamplesHaveThePosteriorsMeanAndVariance) {
  std::mt19937_64 rng(7);
  const PassRatePosterior p{3, 5};
  double sum = 0, sum_sq = 0;
  const int n = 40000;
  for (int i = 0; i < n; ++i) {
    const double x = p.Sample(rng);
    ASSERT_GE(x, 0);
    ASSERT_LE(x, 1);
    sum += x;
    sum_sq += x * x;
  }
  const double mean = sum / n;
  EXPECT_NEAR(mean, 3.0 / 8, 0.005);                     // standard error 0.0008
  EXPECT_NEAR(sum_sq / n - mean * mean, p.Variance(), 0.002);
}

TEST(SelectCandidates, SignalRanksAConfidentHalfThenTheUncertainThenTheKnownEasy) {
  // Signal at G = 8: Beta(50, 50) about 0.99, Beta(1, 1) 7/9, Beta(99, 1) under 0.1.
  const std::vector<Decision> d = {WithPosterior(DecisionKind::kKeep, 99, 1), WithPosterior(DecisionKind::kKeep, 1, 1),
                                   WithPosterior(DecisionKind::kGuide, 50, 50), WithPosterior(DecisionKind::kDrop, 50, 50),
                                   Made(DecisionKind::kKeep, 0.5)};
  SelectionOptions signal;
  signal.rule = SelectionRule::kSignalProbability;
  EXPECT_EQ(SelectCandidates(d, 1, signal), (Indices{2}));
  EXPECT_EQ(SelectCandidates(d, 2, signal), (Indices{1, 2}));
  EXPECT_EQ(SelectCandidates(d, 3, signal), (Indices{0, 1, 2}));
  EXPECT_EQ(SelectCandidates(d, 4, signal), (Indices{0, 1, 2, 4}));  // no posterior: last, never DROP
  // Nearest 0.5 by mean cannot tell the uncertain prompt from the confident one: input order.
  EXPECT_EQ(SelectCandidates(d, 1, SelectionOptions{}), (Indices{1}));
}

TEST(SelectCandidates, ThompsonExploresAnUncertainPromptAsOftenAsItsDrawsLandNearTheTarget) {
  // One candidate known to sit at 0.9, one uniform: the uniform one is chosen when its draw lands
  // within 0.4 of 0.5, which has probability 0.8.
  const std::vector<Decision> d = {WithPosterior(DecisionKind::kKeep, 9000, 1000), WithPosterior(DecisionKind::kKeep, 1, 1)};
  SelectionOptions thompson;
  thompson.rule = SelectionRule::kThompson;
  std::mt19937_64 rng(11);
  int uncertain = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) uncertain += SelectCandidates(d, 1, thompson, &rng) == Indices{1};
  EXPECT_NEAR(static_cast<double>(uncertain) / n, 0.8, 0.025);  // standard error 0.006
  // The same seed gives the same choices.
  std::mt19937_64 a(3), b(3);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(SelectCandidates(d, 1, thompson, &a), SelectCandidates(d, 1, thompson, &b));
}

TEST(PassRatePosterior, FollowsThePromptsGroupsOnThePredictionAndTrustsAPoorPredictorLess) {
  PluginConfig config;
  auto plugin = TrainerPlugin::Create(testing::SyntheticSchema(), config);
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  const std::vector<PromptInfo> batch = {{"p", "What is 2 + 2?", std::nullopt}};
  const std::vector<PromptFeatures> features = {testing::SyntheticWorld{}.Prompt("p", 0).features};
  ASSERT_TRUE((*plugin)->Decide(batch, features).ok());
  ASSERT_TRUE((*plugin)->Observe("p", {1, 1, 0, 0, 0, 0, 0, 0}).ok());
  auto decided = (*plugin)->Decide(batch, features);
  ASSERT_TRUE(decided.ok()) << decided.status();
  const Decision& d = (*decided)[0];
  ASSERT_TRUE(d.pass_rate_posterior);
  const double predicted = d.prediction->pass_rate;  // 2 of 8 on a prior worth 8 rollouts
  EXPECT_NEAR(d.pass_rate_posterior->alpha, 2 + 8 * predicted, 1e-9);
  EXPECT_NEAR(d.pass_rate_posterior->beta, 6 + 8 * (1 - predicted), 1e-9);
  EXPECT_NEAR(d.pass_rate_posterior->Mean(), *d.expected_pass_rate, 1e-12);

  // Weighted by quality: the unsupervised prior has no held-out measurement yet, so its prediction
  // is worth 1/8 of its rollouts: one rollout.
  config.policy.expectation_prior_by_quality = true;
  auto weighted = TrainerPlugin::Create(testing::SyntheticSchema(), config);
  ASSERT_TRUE(weighted.ok());
  ASSERT_TRUE((*weighted)->Decide(batch, features).ok());
  ASSERT_TRUE((*weighted)->Observe("p", {1, 1, 0, 0, 0, 0, 0, 0}).ok());
  auto again = (*weighted)->Decide(batch, features);
  ASSERT_TRUE(again.ok());
  const Decision& w = (*again)[0];
  EXPECT_EQ(w.prediction->source, PredictionSource::kPrior);
  EXPECT_NEAR(w.pass_rate_posterior->alpha, 2 + w.prediction->pass_rate, 1e-9);
  EXPECT_NEAR(w.pass_rate_posterior->beta, 6 + (1 - w.prediction->pass_rate), 1e-9);
  EXPECT_DOUBLE_EQ(*w.expected_pass_rate, *d.expected_pass_rate);  // the 'nearest' rule is unchanged
}

TEST(RolloutCost, APromptCostsItsOwnDecayedMeanAndANewOneWhatItsLengthPredicts) {
  RolloutCost cost(/*decay=*/0.5);
  EXPECT_FALSE(cost.Expected("a", 10).has_value());
  ASSERT_TRUE(cost.Observe("a", 10, 10).ok());
  EXPECT_DOUBLE_EQ(*cost.Expected("a", 10), 10);
  EXPECT_DOUBLE_EQ(*cost.Expected("new", 99), 10);  // one prompt length so far: the mean cost
  ASSERT_TRUE(cost.Observe("a", 10, 20).ok());
  EXPECT_NEAR(*cost.Expected("a", 10), (0.5 * 10 + 20) / 1.5, 1e-12);
  // Completions three times as long as their prompts: the line on logs predicts 240 for a prompt
  // of 80 tokens it has never seen, whatever the forgetting.
  RolloutCost line;
  for (int tokens : {10, 20, 40, 10, 40}) ASSERT_TRUE(line.Observe("p" + std::to_string(tokens), tokens, 3.0 * tokens).ok());
  EXPECT_NEAR(*line.Expected("unseen", 80), 240, 1e-6);
  EXPECT_NEAR(*line.Expected("p20", 80), 60, 1e-12);  // a known prompt costs its own
  EXPECT_FALSE(line.Observe("x", 10, -1).ok());
  EXPECT_FALSE(line.Observe("x", 10, std::nan("")).ok());
}

TEST(SelectCandidates, SignalPerTokenPrefersTheCheaperOfEqualChancesAndTakesTheMedianForUnknownCosts) {
  auto candidate = [](double alpha, double beta, std::optional<double> tokens) {
    Decision d = Made(DecisionKind::kKeep, alpha / (alpha + beta));
    d.pass_rate_posterior = PassRatePosterior{alpha, beta};
    d.expected_completion_tokens = tokens;
    return d;
  };
  SelectionOptions per_token;
  per_token.rule = SelectionRule::kSignalPerToken;
  // Equal chances, costs 100 and 50: the cheaper one.
  EXPECT_EQ(SelectCandidates({candidate(4, 4, 100), candidate(4, 4, 50)}, 1, per_token), (Indices{1}));
  // A likelier signal at eight times the cost loses, when its chance is not eight times as large.
  const double even = PassRatePosterior{4, 4}.SignalProbability(8), rare = PassRatePosterior{1, 9}.SignalProbability(8);
  ASSERT_GT(even, rare);
  ASSERT_LT(even / 200, rare / 25);
  EXPECT_EQ(SelectCandidates({candidate(4, 4, 200), candidate(1, 9, 25)}, 1, per_token), (Indices{1}));
  // Unknown cost: the median of the others (100 here), so it ties with the 100-token twin and input
  // order decides.
  EXPECT_EQ(SelectCandidates({candidate(4, 4, std::nullopt), candidate(4, 4, 100), candidate(4, 4, 300)}, 2, per_token),
            (Indices{0, 1}));
  // No costs at all: the signal rule.
  SelectionOptions signal;
  signal.rule = SelectionRule::kSignalProbability;
  const std::vector<Decision> unknown = {candidate(1, 9, std::nullopt), candidate(4, 4, std::nullopt)};
  EXPECT_EQ(SelectCandidates(unknown, 1, per_token), SelectCandidates(unknown, 1, signal));
}

TEST(RolloutCost, ThePluginLearnsItFromUnhintedGroupsAndKeepsItInTheCheckpoint) {
  std::unique_ptr<TrainerPlugin> plugin = testing::MakePlugin();
  const std::vector<PromptInfo> batch = {{"p", "What is 2 + 2?", std::nullopt}};
  const std::vector<PromptFeatures> features = {testing::SyntheticWorld{}.Prompt("p", 0).features};
  auto first = plugin->Decide(batch, features);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE((*first)[0].expected_completion_tokens.has_value());
  // Lengths that do not match the rewards change nothing.
  const absl::Status mismatched = plugin->Observe("p", {1, 0}, {30});
  EXPECT_EQ(mismatched.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(mismatched.message().find("2 rewards but 1 completion lengths"), std::string::npos) << mismatched;
  EXPECT_EQ(plugin->Stats().counters.observed_groups, 0);
  EXPECT_EQ(plugin->Observe("p", {1, 0}, {30, -1}).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(plugin->Observe("p", {1, 0}, {30, 50}).ok());
  auto second = plugin->Decide(batch, features);
  ASSERT_TRUE(second.ok());
  EXPECT_DOUBLE_EQ(*(*second)[0].expected_completion_tokens, 40);

  const testing::TempDir dir;
  ASSERT_TRUE(plugin->Save(dir.File("c.json")).ok());
  std::unique_ptr<TrainerPlugin> restored = testing::MakePlugin();
  ASSERT_TRUE(restored->Load(dir.File("c.json")).ok());
  auto third = restored->Decide(batch, features);
  ASSERT_TRUE(third.ok());
  EXPECT_DOUBLE_EQ(*(*third)[0].expected_completion_tokens, 40);
}

TEST(AllocateGroupSizes, MatchesTheBestSplitFoundByTryingEveryOne) {
  const PassRatePosterior known_half{400, 400}, uncertain{1, 1}, hopeless{1, 999}, lopsided{2, 18};
  const std::vector<std::vector<PassRatePosterior>> cases = {
      {known_half, uncertain}, {uncertain, hopeless}, {known_half, lopsided}, {lopsided, uncertain}};
  for (const auto& pair : cases) {
    const std::vector<int> sizes = AllocateGroupSizes(pair, 16, 2, 12);
    ASSERT_EQ(sizes.size(), 2u);
    EXPECT_EQ(sizes[0] + sizes[1], 16);
    double best = -1;
    for (int a = 4; a <= 12; ++a) {  // both within [2, 12] and summing to 16
      best = std::max(best, pair[0].SignalProbability(a) + pair[1].SignalProbability(16 - a));
    }
    EXPECT_NEAR(pair[0].SignalProbability(sizes[0]) + pair[1].SignalProbability(sizes[1]), best, 1e-12);
  }
  // Known to sit at 0.5, a prompt needs few rollouts; an uncertain one gets the rest.
  const std::vector<int> split = AllocateGroupSizes({known_half, uncertain}, 16, 2, 12);
  EXPECT_LT(split[0], split[1]);
  // A hopeless prompt stays at the minimum beside one that can still show signal.
  EXPECT_EQ(AllocateGroupSizes({uncertain, hopeless}, 16, 2, 32)[1], 2);
  // Bounds: never past max_size, even when rollouts are left over; never below min_size.
  EXPECT_EQ(AllocateGroupSizes({uncertain, uncertain}, 100, 2, 8), (std::vector<int>{8, 8}));
  EXPECT_EQ(AllocateGroupSizes({uncertain, uncertain}, 1, 2, 8), (std::vector<int>{2, 2}));
  EXPECT_TRUE(AllocateGroupSizes({}, 16, 2, 8).empty());
}

}  // namespace
}  // namespace sparsegate::plugin

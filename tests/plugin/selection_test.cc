// SelectNearestPassRate (selection.h): nearest the target first, never a skipped prompt, input
// order kept, and the plugin's expected pass rate following the prompt's own last group.
#include "trainer_plugin/selection.h"

#include <gtest/gtest.h>

#include "synthetic.h"

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

}  // namespace
}  // namespace sparsegate::plugin

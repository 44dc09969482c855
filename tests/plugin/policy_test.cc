// The policy's state machine: the ladder rises on all-zero groups, holds on success and steps down
// after K successful groups; quarantine at the top rung and the return after N epochs; prompts with
// no reference only ever KEEP or DROP; the predicted starting rung; DEFER; fail-open; the expected
// pass rate of a decided rollout.
#include <gtest/gtest.h>

#include "trainer_plugin/policy/policy.h"

namespace sparsegate::plugin {
namespace {

const Prediction kMiddling{0.5, PredictionSource::kSupervised};
const std::vector<double> kAllZero(8, 0.0);
const std::vector<double> kOneSuccess = {1, 0, 0, 0, 0, 0, 0, 0};
const std::vector<double> kAllPass(8, 1.0);

Policy MakePolicy(PolicyConfig config = {}) {
  absl::StatusOr<Policy> policy = Policy::Create(std::move(config));
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *std::move(policy);
}

// Decides, then observes `rewards`; returns the decision.
PolicyDecision Step(Policy& policy, const std::string& id, bool has_reference, const std::vector<double>& rewards,
                    const Prediction& prediction = kMiddling) {
  PolicyDecision d = policy.Decide(id, has_reference, prediction);
  EXPECT_TRUE(policy.Observe(id, rewards).ok());
  return d;
}

TEST(Policy, LadderRisesOnAllZeroUpToQuarantine) {
  Policy policy = MakePolicy();
  PolicyDecision d = Step(policy, "p", true, kAllZero);
  EXPECT_EQ(d.kind, DecisionKind::kKeep);
  d = Step(policy, "p", true, kAllZero);
  EXPECT_EQ(d.kind, DecisionKind::kGuide);
  EXPECT_EQ(d.hint_level, 1);
  EXPECT_DOUBLE_EQ(d.hint_fraction, 0.25);
  d = Step(policy, "p", true, kAllZero);
  EXPECT_EQ(d.hint_level, 2);
  EXPECT_DOUBLE_EQ(d.hint_fraction, 0.5);
  d = Step(policy, "p", true, kAllZero);  // the top rung fails too
  EXPECT_EQ(d.hint_level, 3);
  EXPECT_DOUBLE_EQ(d.hint_fraction, 0.75);
  d = policy.Decide("p", true, kMiddling);
  EXPECT_EQ(d.kind, DecisionKind::kDrop);
  EXPECT_NE(d.reason.find("quarantined until epoch 3"), std::string::npos) << d.reason;
}

TEST(Policy, HoldsOnSuccessAndStepsDownAfterKSuccessfulGroups) {
  Policy policy = MakePolicy();
  Step(policy, "p", true, kAllZero);
  Step(policy, "p", true, kAllZero);
  EXPECT_EQ(Step(policy, "p", true, kOneSuccess).hint_level, 2);  // at rung 2, a success: hold
  EXPECT_EQ(Step(policy, "p", true, kOneSuccess).hint_level, 2);  // second success in a row: step down
  EXPECT_EQ(Step(policy, "p", true, kOneSuccess).hint_level, 1);  // one success at rung 1: hold
  EXPECT_EQ(Step(policy, "p", true, kAllZero).hint_level, 1);     // a failure resets the count...
  EXPECT_EQ(Step(policy, "p", true, kOneSuccess).hint_level, 2);  // ...and climbs back
  EXPECT_EQ(Step(policy, "p", true, kOneSuccess).hint_level, 2);
  PolicyDecision d = Step(policy, "p", true, kOneSuccess);
  EXPECT_EQ(d.hint_level, 1);
  d = Step(policy, "p", true, kOneSuccess);
  EXPECT_EQ(d.hint_level, 1);
  d = policy.Decide("p", true, kMiddling);
  EXPECT_EQ(d.kind, DecisionKind::kKeep);  // learned without help
  EXPECT_EQ(d.hint_level, 0);
}

TEST(Policy, StepDownCountIsConfigurable) {
  PolicyConfig config;
  config.step_down_after_successes = 1;
  Policy policy = MakePolicy(config);
  Step(policy, "p", true, kAllZero);
  EXPECT_EQ(Step(policy, "p", true, kOneSuccess).hint_level, 1);
  EXPECT_EQ(policy.Decide("p", true, kMiddling).kind, DecisionKind::kKeep);
}

TEST(Policy, QuarantineLastsNEpochsThenRechecksAtTheTopRung) {
  PolicyConfig config;
  config.quarantine_epochs = 2;
  Policy policy = MakePolicy(config);
  for (int i = 0; i < 4; ++i) Step(policy, "p", true, kAllZero);
  EXPECT_EQ(policy.Decide("p", true, kMiddling).kind, DecisionKind::kDrop);  // epoch 0
  ASSERT_TRUE(policy.BeginEpoch(1).ok());
  EXPECT_EQ(policy.Decide("p", true, kMiddling).kind, DecisionKind::kDrop);
  ASSERT_TRUE(policy.BeginEpoch(2).ok());
  EXPECT_EQ(policy.Decide("p", true, kMiddling).kind, DecisionKind::kDrop);
  ASSERT_TRUE(policy.BeginEpoch(3).ok());
  PolicyDecision d = policy.Decide("p", true, kMiddling);
  EXPECT_EQ(d.kind, DecisionKind::kGuide);
  EXPECT_EQ(d.hint_level, 3);
  EXPECT_NE(d.reason.find("back from quarantine"), std::string::npos) << d.reason;
  // It fails again at the top rung: quarantined again from the current epoch.
  ASSERT_TRUE(policy.Observe("p", kAllZero).ok());
  d = policy.Decide("p", true, kMiddling);
  EXPECT_EQ(d.kind, DecisionKind::kDrop);
  EXPECT_EQ(*policy.state().prompts.at("p").quarantined_until_epoch, 6);
  // A success on the re-check keeps it guided at the top rung instead.
  ASSERT_TRUE(policy.BeginEpoch(6).ok());
  EXPECT_EQ(Step(policy, "p", true, kOneSuccess).kind, DecisionKind::kGuide);
  EXPECT_EQ(policy.Decide("p", true, kMiddling).hint_level, 3);
}

TEST(Policy, NoReferenceMeansOnlyKeepOrDrop) {
  Policy policy = MakePolicy();
  const std::vector<std::vector<double>> outcomes = {kAllZero, kOneSuccess, kAllZero, kAllPass, kAllZero};
  for (int round = 0; round < 20; ++round) {
    PolicyDecision d = policy.Decide("q", false, kMiddling);
    EXPECT_TRUE(d.kind == DecisionKind::kKeep || d.kind == DecisionKind::kDrop) << d.reason;
    EXPECT_EQ(d.hint_level, 0);
    ASSERT_TRUE(policy.Observe("q", outcomes[round % outcomes.size()]).ok());
    ASSERT_TRUE(policy.BeginEpoch(round + 1).ok());
  }
  // Two all-zero groups in a row quarantine a prompt without a reference.
  Policy fresh = MakePolicy();
  EXPECT_EQ(Step(fresh, "r", false, kAllZero).kind, DecisionKind::kKeep);
  EXPECT_EQ(Step(fresh, "r", false, kAllZero).kind, DecisionKind::kKeep);
  EXPECT_EQ(fresh.Decide("r", false, kMiddling).kind, DecisionKind::kDrop);
}

TEST(Policy, HopelessPromptsAreDroppedEvenWithAReferenceOnlyWhenAsked) {
  const Prediction hopeless{0.004, PredictionSource::kSupervised};
  EXPECT_EQ(MakePolicy().Decide("p", true, hopeless).kind, DecisionKind::kGuide);  // the default guides
  PolicyConfig config;
  config.drop_hopeless_below = 0.01;
  Policy policy = MakePolicy(config);
  PolicyDecision d = policy.Decide("p", true, hopeless);
  EXPECT_EQ(d.kind, DecisionKind::kDrop);
  EXPECT_NE(d.reason.find("even with a hint"), std::string::npos) << d.reason;
  EXPECT_EQ(policy.Decide("q", true, Prediction{0.02, PredictionSource::kSupervised}).kind, DecisionKind::kGuide);
  // The unsupervised prior is a ranking guess: it never drops.
  EXPECT_EQ(policy.Decide("r", true, Prediction{0.004, PredictionSource::kPrior}).kind, DecisionKind::kGuide);
  config.drop_hopeless_below = 1.0;
  EXPECT_FALSE(Policy::Create(config).ok());
}

TEST(Policy, LosingTheReferenceLeavesTheLadder) {
  Policy policy = MakePolicy();
  Step(policy, "p", true, kAllZero);
  EXPECT_EQ(policy.Decide("p", true, kMiddling).kind, DecisionKind::kGuide);
  PolicyDecision d = policy.Decide("p", false, kMiddling);
  EXPECT_EQ(d.kind, DecisionKind::kKeep);
  EXPECT_EQ(policy.state().prompts.at("p").hint_level, 0);
}

TEST(Policy, PredictionPicksTheStartingRung) {
  Policy policy = MakePolicy();
  auto start = [&](const std::string& id, double p, bool ref, PredictionSource source = PredictionSource::kSupervised) {
    return policy.Decide(id, ref, Prediction{p, source});
  };
  EXPECT_EQ(start("a", 0.5, true).kind, DecisionKind::kKeep);
  EXPECT_EQ(start("b", 0.05, true).hint_level, 1);
  EXPECT_EQ(start("c", 0.02, true).hint_level, 2);
  EXPECT_EQ(start("d", 0.005, true).hint_level, 3);
  PolicyDecision d = start("e", 0.01, false);
  EXPECT_EQ(d.kind, DecisionKind::kDrop);
  EXPECT_NE(d.reason.find("near-impossible"), std::string::npos) << d.reason;
  // The unsupervised prior may start a prompt guided but never drops it.
  EXPECT_EQ(start("f", 0.01, false, PredictionSource::kPrior).kind, DecisionKind::kKeep);
  EXPECT_EQ(start("g", 0.05, true, PredictionSource::kPrior).hint_level, 1);
  // Until an outcome arrives the newest prediction decides; afterwards the ladder does.
  EXPECT_EQ(start("b", 0.5, true).kind, DecisionKind::kKeep);
  EXPECT_EQ(start("b", 0.05, true).hint_level, 1);
  ASSERT_TRUE(policy.Observe("b", kOneSuccess).ok());
  EXPECT_EQ(start("b", 0.001, true).hint_level, 1);
}

TEST(Policy, DeferTriviallyEasyPromptsWhenEnabled) {
  PolicyConfig config;
  config.enable_defer = true;
  config.defer_epochs = 1;
  Policy policy = MakePolicy(config);
  EXPECT_EQ(policy.Decide("easy", true, {0.99, PredictionSource::kSupervised}).kind, DecisionKind::kDefer);
  EXPECT_EQ(policy.Decide("easy2", true, {0.99, PredictionSource::kPrior}).kind, DecisionKind::kKeep);

  EXPECT_EQ(Step(policy, "p", true, kAllPass).kind, DecisionKind::kKeep);
  EXPECT_EQ(Step(policy, "p", true, kAllPass).kind, DecisionKind::kKeep);  // second all-pass group
  EXPECT_EQ(policy.Decide("p", true, kMiddling).kind, DecisionKind::kDefer);
  ASSERT_TRUE(policy.BeginEpoch(1).ok());
  EXPECT_EQ(policy.Decide("p", true, kMiddling).kind, DecisionKind::kDefer);
  ASSERT_TRUE(policy.BeginEpoch(2).ok());
  EXPECT_EQ(policy.Decide("p", true, kMiddling).kind, DecisionKind::kKeep);  // re-check
  ASSERT_TRUE(policy.Observe("p", kOneSuccess).ok());  // no longer trivial: the streak resets
  EXPECT_EQ(policy.Decide("p", true, kMiddling).kind, DecisionKind::kKeep);

  Policy off = MakePolicy();
  Step(off, "p", true, kAllPass);
  Step(off, "p", true, kAllPass);
  EXPECT_EQ(off.Decide("p", true, kMiddling).kind, DecisionKind::kKeep);
  EXPECT_EQ(off.Decide("easy", true, {0.99, PredictionSource::kSupervised}).kind, DecisionKind::kKeep);
}

TEST(Policy, FailOpenKeepsAndDoesNotMoveTheLadder) {
  Policy policy = MakePolicy();
  Step(policy, "p", true, kAllZero);
  Step(policy, "p", true, kAllZero);
  PolicyDecision d = policy.DecideWithoutFeatures("p", true);
  EXPECT_EQ(d.kind, DecisionKind::kKeep);
  EXPECT_NE(d.reason.find("fail-open"), std::string::npos);
  // The unhinted rollouts of the fail-open KEEP were no test of rung 2.
  ASSERT_TRUE(policy.Observe("p", kAllZero).ok());
  d = policy.Decide("p", true, kMiddling);
  EXPECT_EQ(d.kind, DecisionKind::kGuide);
  EXPECT_EQ(d.hint_level, 2);
  // An unknown prompt fails open to KEEP too.
  EXPECT_EQ(policy.DecideWithoutFeatures("new", true).kind, DecisionKind::kKeep);
}

TEST(Policy, FailOpenCanUseTheLastKnownState) {
  PolicyConfig config;
  config.fail_open = FailOpenMode::kLastKnown;
  Policy policy = MakePolicy(config);
  Step(policy, "p", true, kAllZero);
  Step(policy, "p", true, kAllZero);
  PolicyDecision d = policy.DecideWithoutFeatures("p", true);
  EXPECT_EQ(d.kind, DecisionKind::kGuide);
  EXPECT_EQ(d.hint_level, 2);
  EXPECT_NE(d.reason.find("last known"), std::string::npos);
  // A prompt only ever predicted keeps its last prediction's decision.
  policy.Decide("hard", false, {0.001, PredictionSource::kSupervised});
  EXPECT_EQ(policy.DecideWithoutFeatures("hard", false).kind, DecisionKind::kDrop);
  EXPECT_EQ(policy.DecideWithoutFeatures("never-seen", false).kind, DecisionKind::kKeep);
}

TEST(Policy, SuccessThreshold) {
  Policy policy = MakePolicy();
  Step(policy, "p", true, {0.4, 0.4, 0.4, 0.4});  // below 0.5: all failures
  EXPECT_EQ(policy.Decide("p", true, kMiddling).hint_level, 1);
  PolicyConfig config;
  config.success_threshold = 0.3;
  Policy lenient = MakePolicy(config);
  Step(lenient, "p", true, {0.4, 0.4, 0.4, 0.4});
  EXPECT_EQ(lenient.Decide("p", true, kMiddling).kind, DecisionKind::kKeep);
}

TEST(Policy, ExpectedPassRateWeighsThePromptsGroupsAgainstThePrediction) {
  Policy policy = MakePolicy();  // prior worth 8 rollouts, decay 0.75
  PolicyDecision d = policy.Decide("p", true, kMiddling);
  EXPECT_DOUBLE_EQ(policy.ExpectedPassRate("p", d, kMiddling), 0.5);  // no group yet: the prediction
  EXPECT_DOUBLE_EQ(policy.ExpectedPassRate("never seen", d, kMiddling), 0.5);
  ASSERT_TRUE(policy.Observe("p", kAllPass).ok());
  d = policy.Decide("p", true, kMiddling);
  EXPECT_DOUBLE_EQ(policy.ExpectedPassRate("p", d, kMiddling), (8 + 4) / 16.0);  // one lucky group is not 1.0
  ASSERT_TRUE(policy.Observe("p", kAllPass).ok());
  ASSERT_TRUE(policy.Observe("p", kOneSuccess).ok());
  d = policy.Decide("p", true, kMiddling);
  const double successes = 0.75 * (0.75 * 8 + 8) + 1, trials = 0.75 * (0.75 * 8 + 8) + 8;
  EXPECT_DOUBLE_EQ(policy.ExpectedPassRate("p", d, kMiddling), (successes + 4) / (trials + 8));
  const Prediction low{0.1, PredictionSource::kSupervised};
  EXPECT_DOUBLE_EQ(policy.ExpectedPassRate("p", d, low), (successes + 0.8) / (trials + 8));
}

TEST(Policy, HintedExpectationsStartFromEveryPromptsPassRateAtTheRung) {
  Policy policy = MakePolicy();
  // Two prompts fail unhinted, then at rung 1 one of them passes 2 of 8 and the other none.
  for (const char* id : {"a", "b"}) Step(policy, id, true, kAllZero);
  EXPECT_EQ(Step(policy, "a", true, {1, 1, 0, 0, 0, 0, 0, 0}).hint_level, 1);
  EXPECT_EQ(Step(policy, "b", true, kAllZero).hint_level, 1);
  // A third prompt guided at rung 1 expects the rung's pooled 2 of 16, not its unhinted prediction.
  Step(policy, "c", true, kAllZero);
  PolicyDecision d = policy.Decide("c", true, kMiddling);
  ASSERT_EQ(d.hint_level, 1);
  EXPECT_DOUBLE_EQ(policy.ExpectedPassRate("c", d, kMiddling), 2.0 / 16);
  // "b" climbed to rung 2, where nothing was rolled out yet: the prediction stands; its rung-1
  // evidence was cleared when it left the rung.
  d = policy.Decide("b", true, kMiddling);
  ASSERT_EQ(d.hint_level, 2);
  EXPECT_DOUBLE_EQ(policy.ExpectedPassRate("b", d, kMiddling), 0.5);
  EXPECT_EQ(policy.state().prompts.at("b").level_trials, 0);
  EXPECT_EQ(policy.state().rung_trials, (std::vector<int64_t>{24, 16, 0, 0}));
  EXPECT_EQ(policy.state().rung_successes, (std::vector<int64_t>{0, 2, 0, 0}));
}

TEST(Policy, RejectsBadInput) {
  Policy policy = MakePolicy();
  EXPECT_EQ(policy.Observe("p", {}).status().code(), absl::StatusCode::kInvalidArgument);
  absl::Status bad = policy.Observe("p", {0.0, 1.5}).status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("reward 1"), std::string::npos) << bad;
  EXPECT_TRUE(policy.state().prompts.empty());  // a rejected observation changes nothing
  ASSERT_TRUE(policy.BeginEpoch(3).ok());
  EXPECT_TRUE(policy.BeginEpoch(3).ok());
  EXPECT_EQ(policy.BeginEpoch(2).code(), absl::StatusCode::kInvalidArgument);

  PolicyConfig config;
  config.hint_ladder = {0.5, 0.25};
  EXPECT_FALSE(Policy::Create(config).ok());
  config = PolicyConfig{};
  config.start_rung_below = {0.1, 0.05};
  EXPECT_FALSE(Policy::Create(config).ok());
  config = PolicyConfig{};
  config.drop_below = 0.99;
  EXPECT_FALSE(Policy::Create(config).ok());
  config = PolicyConfig{};
  config.expectation_decay = 0;
  EXPECT_FALSE(Policy::Create(config).ok());
  config = PolicyConfig{};
  config.expectation_prior_rollouts = 0;
  EXPECT_FALSE(Policy::Create(config).ok());
  PolicyState state;
  state.rung_trials = {1, 2, 3, 4, 5};  // a five-entry count for a three-rung ladder
  state.rung_successes = {0, 0, 0, 0, 0};
  absl::StatusOr<Policy> mismatched = Policy::Create(PolicyConfig{}, state);
  EXPECT_EQ(mismatched.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(mismatched.status().message().find("5 rungs"), std::string::npos) << mismatched.status();
}

}  // namespace
}  // namespace sparsegate::plugin

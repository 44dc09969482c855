// The facade: what a trainer sees. Hinted prompt text, fail-open, counters and the stats JSON,
// which outcomes reach the predictor, and errors that leave the state untouched.
#include <gtest/gtest.h>

#include "tests/plugin/trainer_sim.h"

namespace sparsegate::plugin {
namespace {

using testing::MakePlugin;
using testing::ReferenceSolution;
using testing::TrainerSim;

PromptInfo Info(const std::string& id, bool with_reference) {
  PromptInfo info;
  info.id = id;
  info.prompt = "Find n such that 1 + 2 + ... + n = 55.";
  if (with_reference) info.reference_solution = ReferenceSolution();
  return info;
}

PromptFeatures SomeFeatures(int index = 0) { return testing::SyntheticWorld{}.Prompt("f", index).features; }

TEST(TrainerPlugin, GuideCarriesTheHintedPromptAndTheHintSeparately) {
  std::unique_ptr<TrainerPlugin> plugin = MakePlugin();
  ASSERT_TRUE(plugin->Decide({Info("q", true)}, {SomeFeatures()}).ok());
  ASSERT_TRUE(plugin->Observe("q", std::vector<double>(8, 0.0)).ok());  // all wrong: rung 1
  absl::StatusOr<std::vector<Decision>> decisions = plugin->Decide({Info("q", true)}, {SomeFeatures()});
  ASSERT_TRUE(decisions.ok()) << decisions.status();
  const Decision& d = (*decisions)[0];
  EXPECT_EQ(d.kind, DecisionKind::kGuide);
  EXPECT_EQ(d.hint_level, 1);
  EXPECT_EQ(d.prompt_text, Info("q", true).prompt + d.hint_text);
  // 25% of the reference, cut at its first line end: "Let $n$ be the number of steps."
  EXPECT_NE(d.hint_text.find("Let $n$ be the number of steps.\n</partial_solution>"), std::string::npos)
      << d.hint_text;
  EXPECT_EQ(d.hint_boundary, CutBoundary::kLineEnd);
  EXPECT_NE(d.reason.find("line_end"), std::string::npos) << d.reason;

  PluginConfig ghpo = testing::FastLearningConfig();
  ghpo.hint_template = HintTemplate::Ghpo();
  std::unique_ptr<TrainerPlugin> g = MakePlugin(ghpo);
  ASSERT_TRUE(g->Decide({Info("q", true)}, {SomeFeatures()}).ok());
  ASSERT_TRUE(g->Observe("q", std::vector<double>(8, 0.0)).ok());
  const Decision gd = (*g->Decide({Info("q", true)}, {SomeFeatures()}))[0];
  EXPECT_EQ(gd.prompt_text, Info("q", true).prompt +
                                "\n The following text is the beginning part of the answer, which you can refer to "
                                "for solving the problem:\nLet $n$ be the number of steps.");
}

TEST(TrainerPlugin, FailOpenIsCountedAndNeverBlocks) {
  std::unique_ptr<TrainerPlugin> plugin = MakePlugin();
  absl::StatusOr<std::vector<Decision>> decisions =
      plugin->Decide({Info("a", true), Info("b", false)}, {PromptFeatures{}, SomeFeatures()});
  ASSERT_TRUE(decisions.ok());
  EXPECT_TRUE((*decisions)[0].fail_open);
  EXPECT_EQ((*decisions)[0].kind, DecisionKind::kKeep);
  EXPECT_FALSE((*decisions)[0].prediction.has_value());
  EXPECT_FALSE((*decisions)[1].fail_open);
  EXPECT_TRUE((*decisions)[1].prediction.has_value());

  const absl::StatusOr<std::vector<Decision>> all = plugin->DecideWithoutFeatures({Info("c", true), Info("d", true)});
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
  for (const Decision& d : *all) EXPECT_EQ(d.kind, DecisionKind::kKeep);
  EXPECT_EQ(plugin->Stats().counters.fail_open_decisions, 3);
  EXPECT_EQ(plugin->StatsJson()["fail_open_decisions"], 3);
}

// A trainer's prompt-length budget: a hint is cut shorter on a step boundary to fit, or withheld,
// and a withheld hint's group counts as unhinted without moving the ladder.
TEST(TrainerPlugin, HintsAreFittedToThePromptLengthBudget) {
  std::unique_ptr<TrainerPlugin> plugin = MakePlugin();
  const PromptInfo q = Info("q", true);
  ASSERT_TRUE(plugin->Decide({q}, {SomeFeatures()}).ok());
  for (int rung = 1; rung <= 3; ++rung) {  // three all-wrong groups: rung 3, the 75% hint
    ASSERT_TRUE(plugin->Observe("q", std::vector<double>(8, 0.0)).ok());
    ASSERT_TRUE(plugin->Decide({q}, {SomeFeatures()}).ok());
  }
  const Decision full = (*plugin->Decide({q}, {SomeFeatures()}))[0];
  ASSERT_EQ(full.kind, DecisionKind::kGuide);
  ASSERT_EQ(full.hint_level, 3);

  // Room for the first line of the solution only (what the 25% hint shows).
  const size_t limit = ApplyHintBlock(q.prompt, RenderHintBlock(HintTemplate::Default(),
                                                                "Let $n$ be the number of steps.\n")).size();
  std::vector<size_t> asked;
  const PromptFits short_budget = [&](size_t index, const std::string& text) -> absl::StatusOr<bool> {
    asked.push_back(index);
    return text.size() <= limit;
  };
  const Decision shortened = (*plugin->Decide({q}, {SomeFeatures()}, short_budget))[0];
  EXPECT_EQ(shortened.kind, DecisionKind::kGuide);
  EXPECT_EQ(shortened.hint_level, 3);
  EXPECT_LE(shortened.prompt_text.size(), limit);
  EXPECT_LT(shortened.hint_text.size(), full.hint_text.size());
  EXPECT_EQ(shortened.prompt_text, q.prompt + shortened.hint_text);
  EXPECT_EQ(shortened.hint_boundary, CutBoundary::kLineEnd);
  EXPECT_NE(shortened.reason.find("shortened"), std::string::npos) << shortened.reason;
  EXPECT_FALSE(asked.empty());
  for (size_t index : asked) EXPECT_EQ(index, 0u);

  const PromptFits no_room = [&](size_t, const std::string& text) -> absl::StatusOr<bool> {
    return text.size() <= q.prompt.size();
  };
  const Decision withheld = (*plugin->Decide({q}, {SomeFeatures()}, no_room))[0];
  EXPECT_EQ(withheld.kind, DecisionKind::kKeep);
  EXPECT_EQ(withheld.hint_level, 0);
  EXPECT_EQ(withheld.prompt_text, q.prompt);
  EXPECT_TRUE(withheld.hint_text.empty());
  EXPECT_NE(withheld.reason.find("rolled out unhinted"), std::string::npos) << withheld.reason;
  ASSERT_TRUE(plugin->Observe("q", std::vector<double>(8, 0.0)).ok());
  const PluginStats stats = plugin->Stats();
  EXPECT_EQ(stats.counters.hints_shortened_to_fit, 1);
  EXPECT_EQ(stats.counters.hints_withheld_to_fit, 1);
  EXPECT_EQ(stats.prompts_by_hint_level[3], 1);  // an unhinted failure does not climb the ladder
  EXPECT_EQ(plugin->StatsJson()["hints_withheld_to_fit"], 1);

  const PromptFits broken = [](size_t, const std::string&) -> absl::StatusOr<bool> {
    return absl::InternalError("tokenizer gone");
  };
  const absl::Status failed = plugin->Decide({q}, {SomeFeatures()}, broken).status();
  EXPECT_EQ(failed.code(), absl::StatusCode::kInternal);
  EXPECT_NE(failed.message().find("tokenizer gone"), std::string::npos);
}

TEST(TrainerPlugin, ErrorsLeaveTheStateUntouched) {
  std::unique_ptr<TrainerPlugin> plugin = MakePlugin();
  const nlohmann::json before = plugin->StatsJson();
  EXPECT_EQ(plugin->Decide({Info("a", true)}, {}).status().code(), absl::StatusCode::kInvalidArgument);
  PromptFeatures wrong = SomeFeatures();
  wrong.metrics.pop_back();
  const absl::Status bad = plugin->Decide({Info("a", true), Info("b", true)}, {SomeFeatures(), wrong}).status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("prompt 1 ('b')"), std::string::npos) << bad;
  PromptInfo invalid = Info("c", true);
  invalid.reference_solution = "bad \xFF utf-8";
  EXPECT_FALSE(plugin->Decide({invalid}, {SomeFeatures()}).ok());
  EXPECT_FALSE(plugin->Decide({Info("", true)}, {SomeFeatures()}).ok());
  EXPECT_FALSE(plugin->Observe("a", {2.0}).ok());
  EXPECT_EQ(plugin->StatsJson(), before);
  EXPECT_FALSE(plugin->BeginEpoch(-1).ok());
}

TEST(TrainerPlugin, PredictorLearnsOnlyFromGroupsThatMeasureTheUnhintedPassRate) {
  PluginConfig config = testing::FastLearningConfig();
  config.predictor.holdout_modulus = 0;  // every observation trains
  std::unique_ptr<TrainerPlugin> plugin = MakePlugin(config);
  auto decide = [&](const std::string& id) { ASSERT_TRUE(plugin->Decide({Info(id, true)}, {SomeFeatures()}).ok()); };
  decide("q");
  ASSERT_TRUE(plugin->Observe("q", std::vector<double>(8, 0.0)).ok());  // unhinted: learned
  decide("q");                                                          // now guided at rung 1
  ASSERT_TRUE(plugin->Observe("q", {1, 0, 0, 0, 0, 0, 0, 0}).ok());     // hinted success: not learned
  decide("q");
  ASSERT_TRUE(plugin->Observe("q", std::vector<double>(8, 0.0)).ok());  // hinted failure: learned
  ASSERT_TRUE(plugin->Observe("never-decided", std::vector<double>(8, 1.0)).ok());  // no features: not learned
  const PluginStats stats = plugin->Stats();
  EXPECT_EQ(stats.predictor.training_groups, 2);
  EXPECT_EQ(stats.counters.observed_groups, 4);
  EXPECT_EQ(stats.counters.unknown_prompt_observations, 1);
  EXPECT_EQ(stats.counters.zero_pass_groups, 2);
  EXPECT_EQ(stats.counters.all_pass_groups, 1);
  // Only the unhinted group enters the predicted-vs-observed bins.
  int64_t calibrated = 0;
  for (const CalibrationBin& bin : stats.counters.calibration) calibrated += bin.groups;
  EXPECT_EQ(calibrated, 1);
}

TEST(TrainerPlugin, OfflineOutcomesTrainThePredictorButNotTheLadder) {
  PluginConfig config = testing::FastLearningConfig();
  config.predictor.holdout_modulus = 0;
  std::unique_ptr<TrainerPlugin> plugin = MakePlugin(config);
  ASSERT_TRUE(plugin->ObserveOffline("q", SomeFeatures(), 0, 8).ok());
  ASSERT_TRUE(plugin->ObserveOffline("r", SomeFeatures(1), 8, 8).ok());
  EXPECT_EQ(plugin->Stats().predictor.training_groups, 2);
  EXPECT_EQ(plugin->Stats().counters.observed_groups, 0);  // the ladder saw nothing
  absl::StatusOr<std::vector<Decision>> d = plugin->Decide({Info("q", true)}, {SomeFeatures()});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)[0].hint_level, 0) << "an offline failure must not climb the ladder: " << (*d)[0].reason;

  EXPECT_EQ(plugin->ObserveOffline("q", SomeFeatures(), 9, 8).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(plugin->ObserveOffline("q", SomeFeatures(), 0, 0).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(plugin->ObserveOffline("", SomeFeatures(), 0, 8).code(), absl::StatusCode::kInvalidArgument);
  PromptFeatures short_features = SomeFeatures();
  short_features.metrics.pop_back();
  EXPECT_EQ(plugin->ObserveOffline("q", short_features, 0, 8).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(plugin->Stats().predictor.training_groups, 2);
}

TEST(TrainerPlugin, StatsAddUp) {
  TrainerSim sim;
  std::unique_ptr<TrainerPlugin> plugin = MakePlugin();
  int64_t decisions = 0;
  for (int step = 0; step < 12; ++step) decisions += static_cast<int64_t>(sim.Step(*plugin, step).size());
  const PluginStats stats = plugin->Stats();
  int64_t by_kind = 0;
  for (int64_t n : stats.counters.decisions) by_kind += n;
  EXPECT_EQ(by_kind, decisions);
  int64_t rolled_out = 0;
  for (int64_t n : stats.counters.decisions_by_hint_level) rolled_out += n;
  EXPECT_EQ(rolled_out, stats.counters.decisions[static_cast<int>(DecisionKind::kKeep)] +
                            stats.counters.decisions[static_cast<int>(DecisionKind::kGuide)]);
  EXPECT_EQ(stats.counters.observed_groups, rolled_out);
  EXPECT_EQ(stats.tracked_prompts, 40);
  EXPECT_EQ(stats.epoch, 3);

  const nlohmann::json json = plugin->StatsJson();
  for (const char* key : {"decisions", "fail_open_decisions", "decisions_by_hint_level", "prompts_by_hint_level",
                          "quarantined_prompts", "predicted_vs_observed", "predictor"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
  EXPECT_EQ(json["predicted_vs_observed"]["bins"].size(), 10u);
  EXPECT_EQ(json["decisions"]["guide"], stats.counters.decisions[static_cast<int>(DecisionKind::kGuide)]);
}

}  // namespace
}  // namespace sparsegate::plugin

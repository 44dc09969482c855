// A predictor that follows the policy: Platt recalibration on data whose true map is known, a
// synthetic run whose policy improves (every pass rate rises as training goes on) where the
// recalibrated, recency-weighted predictor stays calibrated and the plain one lags, and the
// plugin's forward quality windows: what they hold, and that they survive a checkpoint.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <fstream>

#include "absl/strings/str_format.h"
#include "tests/plugin/synthetic.h"
#include "tests/plugin/trainer_sim.h"
#include "trainer_plugin/plugin.h"
#include "trainer_plugin/predictor/platt_calibration.h"
#include "trainer_plugin/predictor/quality.h"
#include "trainer_plugin/stable_hash.h"

namespace sparsegate::plugin {
namespace {

using testing::CountSuccesses;
using testing::SyntheticPrompt;
using testing::SyntheticWorld;
using testing::Uniform;

double Logit(double p) { return std::log(p / (1 - p)); }

// Groups of 8 whose true pass rate is sigmoid(slope * logit(q) + intercept) for predictions q.
std::vector<CalibrationPoint> PlattWorld(double slope, double intercept, int groups) {
  std::vector<CalibrationPoint> points;
  for (int i = 0; i < groups; ++i) {
    const double q = 0.05 + 0.9 * Uniform(3, i);
    const double truth = Sigmoid(slope * Logit(q) + intercept);
    int successes = 0;
    for (int k = 0; k < 8; ++k) successes += Uniform(4, i, k) < truth;
    points.push_back({q, static_cast<double>(successes), 8.0, 1.0});
  }
  return points;
}

TEST(PlattCalibration, RecoversAKnownMap) {
  const std::optional<PlattCalibration> steep = FitPlatt(PlattWorld(2.0, -0.5, 4000));
  ASSERT_TRUE(steep.has_value());
  EXPECT_NEAR(steep->slope, 2.0, 0.1);
  EXPECT_NEAR(steep->intercept, -0.5, 0.1);
  const std::optional<PlattCalibration> level = FitPlatt(PlattWorld(1.0, 1.0, 4000));  // the policy got better
  ASSERT_TRUE(level.has_value());
  EXPECT_NEAR(level->slope, 1.0, 0.1);
  EXPECT_NEAR(level->intercept, 1.0, 0.1);
  EXPECT_NEAR(level->Apply(0.5), Sigmoid(1.0), 0.03);
  const std::optional<PlattCalibration> identity = FitPlatt(PlattWorld(1.0, 0.0, 4000));
  ASSERT_TRUE(identity.has_value());
  EXPECT_NEAR(identity->slope, 1.0, 0.1);
  EXPECT_NEAR(identity->intercept, 0.0, 0.1);
}

TEST(PlattCalibration, FewGroupsMoveItLittleAndTheMapStaysIncreasing) {
  // Three groups, all failures but one success: without the pull toward the identity this
  // separates and runs the slope to the floor or to infinity.
  const std::optional<PlattCalibration> few =
      FitPlatt({{0.2, 0, 8, 1}, {0.5, 1, 8, 1}, {0.8, 0, 8, 1}});
  ASSERT_TRUE(few.has_value());
  EXPECT_GT(few->slope, 0.3);
  EXPECT_LT(few->slope, 1.5);
  // Predictions ranked backwards: the map stays increasing, at the floor.
  const std::optional<PlattCalibration> backwards = FitPlatt(PlattWorld(-2.0, 0.0, 2000));
  ASSERT_TRUE(backwards.has_value());
  EXPECT_DOUBLE_EQ(backwards->slope, 0.05);
  EXPECT_LT(backwards->Apply(0.2), backwards->Apply(0.8));
  // Nothing to calibrate on.
  EXPECT_FALSE(FitPlatt({{0.3, 0, 8, 1}, {0.6, 0, 8, 1}}).has_value());
  EXPECT_FALSE(FitPlatt({}).has_value());
  // Weights count as evidence: 8 of 8 weighted 0.5 fits like 4 of 4 weighted 1.
  const std::optional<PlattCalibration> half = FitPlatt({{0.3, 8, 8, 0.5}, {0.6, 0, 8, 1.0}});
  const std::optional<PlattCalibration> whole = FitPlatt({{0.3, 4, 4, 1.0}, {0.6, 0, 8, 1.0}});
  ASSERT_TRUE(half && whole);
  EXPECT_NEAR(half->Apply(0.5), whole->Apply(0.5), 1e-6);
}

// A run whose policy improves: a prompt drawn at step t passes with its true rate plus a boost
// that grows from 0 to 0.35 over the run. Each batch is predicted before its outcomes are seen
// (forward), then observed and refitted. Returns the forward ECE over the last quarter of the run.
double ForwardEceOfAnImprovingRun(PredictorConfig config, double* auroc = nullptr) {
  absl::StatusOr<PassRatePredictor> made = PassRatePredictor::Create(testing::SyntheticSchema(), config);
  EXPECT_TRUE(made.ok()) << made.status();
  PassRatePredictor& predictor = *made;
  const SyntheticWorld world;
  constexpr int kBatches = 48, kBatch = 64;
  std::vector<ScoredOutcome> late;
  for (int b = 0; b < kBatches; ++b) {
    const double boost = 0.35 * b / (kBatches - 1);
    std::vector<std::string> ids;
    std::vector<EncodedPrompt> encoded;
    std::vector<SyntheticPrompt> prompts;
    for (int i = 0; i < kBatch; ++i) {
      prompts.push_back(world.Prompt("p", b * kBatch + i));
      ids.push_back(prompts.back().id);
      encoded.push_back(*predictor.Encode(prompts.back().features));
    }
    predictor.AddToReference(ids, encoded);
    for (int i = 0; i < kBatch; ++i) {
      const double predicted = predictor.Predict(encoded[i]).pass_rate;
      const int32_t successes = CountSuccesses(world.Rewards(prompts[i], 0, 8, boost));
      if (b >= kBatches * 3 / 4) late.push_back({predicted, successes, 8});
      EXPECT_TRUE(predictor.Observe(ids[i], encoded[i], successes, 8).ok());
    }
    EXPECT_TRUE(predictor.Refit().ok());
  }
  const QualitySummary q = Summarize(late);
  if (auroc) *auroc = q.zero_pass_auroc.value_or(0);
  std::printf("forward, last quarter: ece %.3f auroc %.3f predicted %.3f observed %.3f\n",
              q.expected_calibration_error.value_or(-1), q.zero_pass_auroc.value_or(-1), q.mean_predicted_pass_rate,
              q.mean_observed_pass_rate);
  return q.expected_calibration_error.value_or(1);
}

TEST(PredictorFollowingThePolicy, RecalibrationAndRecencyKeepAnImprovingRunCalibrated) {
  PredictorConfig plain;
  plain.hidden_probe_dims = 0;
  PredictorConfig recalibrated = plain;
  recalibrated.recalibrate = true;
  PredictorConfig following = recalibrated;
  following.recency_half_life_groups = 512;
  double plain_auroc = 0, following_auroc = 0;
  const double plain_ece = ForwardEceOfAnImprovingRun(plain, &plain_auroc);
  const double recalibrated_ece = ForwardEceOfAnImprovingRun(recalibrated);
  const double following_ece = ForwardEceOfAnImprovingRun(following, &following_auroc);
  // The plain model averages over the whole run and predicts the past policy's lower rates.
  EXPECT_GT(plain_ece, 0.06);
  EXPECT_LT(recalibrated_ece, plain_ece);
  EXPECT_LT(following_ece, 0.05);
  EXPECT_LT(following_ece, plain_ece / 2);
  // Recalibration rescales; it must not cost the ranking.
  EXPECT_GT(following_auroc, plain_auroc - 0.03);
}

TEST(PredictorFollowingThePolicy, RecencyHalvesAGroupsWeightPerHalfLife) {
  PredictorConfig config;
  config.hidden_probe_dims = 0;
  config.holdout_modulus = 0;
  config.min_training_groups = 1;
  config.recency_half_life_groups = 1;
  // One prompt observed three times: 0 of 8, then 8 of 8 twice. With a half-life of one group the
  // groups weigh 1/4, 1/2 and 1, and with every row's features equal the fitted rate is the
  // weighted success share.
  absl::StatusOr<PassRatePredictor> predictor = PassRatePredictor::Create(testing::SyntheticSchema(), config);
  ASSERT_TRUE(predictor.ok());
  const EncodedPrompt e = *predictor->Encode(SyntheticWorld{}.Prompt("same", 0).features);
  ASSERT_TRUE(predictor->Observe("same", e, 0, 8).ok());
  ASSERT_TRUE(predictor->Observe("same", e, 8, 8).ok());
  ASSERT_TRUE(predictor->Observe("same", e, 8, 8).ok());
  ASSERT_TRUE(predictor->Refit().ok());
  // Weighted successes 8 * 1/2 + 8 * 1 = 12 of weighted trials 8 * (1/4 + 1/2 + 1) = 14.
  EXPECT_NEAR(*predictor->SupervisedPassRate(e), 12.0 / 14.0, 1e-6);
  config.recency_half_life_groups = 0;
  absl::StatusOr<PassRatePredictor> alike = PassRatePredictor::Create(testing::SyntheticSchema(), config);
  ASSERT_TRUE(alike.ok());
  for (int s : {0, 8, 8}) ASSERT_TRUE(alike->Observe("same", e, s, 8).ok());
  ASSERT_TRUE(alike->Refit().ok());
  EXPECT_NEAR(*alike->SupervisedPassRate(e), 16.0 / 24.0, 1e-6);
}

// The prior trains on no outcome, so recalibration levels it on every group it has seen, not only
// on the held-out fifth: in a pool that passes far more often than its percentile guesses (as the
// RL testbed's does), the first two steps' groups already set its level.
TEST(PredictorFollowingThePolicy, ThePriorIsLevelledOnEveryGroupItHasSeen) {
  PredictorConfig config;
  config.hidden_probe_dims = 0;
  config.recalibrate = true;
  absl::StatusOr<PassRatePredictor> predictor = PassRatePredictor::Create(testing::SyntheticSchema(), config);
  ASSERT_TRUE(predictor.ok());
  const SyntheticWorld world;
  std::vector<std::string> ids;
  std::vector<EncodedPrompt> encoded;
  std::vector<SyntheticPrompt> prompts;
  for (int i = 0; i < 24; ++i) {
    prompts.push_back(world.Prompt("lvl", i));
    ids.push_back(prompts.back().id);
    encoded.push_back(*predictor->Encode(prompts.back().features));
  }
  predictor->AddToReference(ids, encoded);
  double raw = 0, observed = 0;
  int holdout = 0;
  for (int i = 0; i < 24; ++i) {
    raw += predictor->Predict(encoded[i]).pass_rate;
    const int32_t successes = CountSuccesses(world.Rewards(prompts[i], 0, 8, /*boost=*/0.5));
    observed += successes / 8.0;
    holdout += predictor->IsHoldout(ids[i]);
    ASSERT_TRUE(predictor->Observe(ids[i], encoded[i], successes, 8).ok());
  }
  ASSERT_TRUE(predictor->Refit().ok());
  ASSERT_LT(holdout, config.min_holdout_groups);  // held-out groups alone could not calibrate yet
  ASSERT_EQ(predictor->Quality().active, PredictionSource::kPrior);
  ASSERT_TRUE(predictor->state().calibration.has_value());
  double levelled = 0;
  for (const EncodedPrompt& e : encoded) levelled += predictor->Predict(e).pass_rate;
  raw /= 24, observed /= 24, levelled /= 24;
  std::printf("prior: raw %.3f, levelled %.3f, observed %.3f\n", raw, levelled, observed);
  EXPECT_GT(observed - raw, 0.2);                // the percentile guesses sit far below the pool
  EXPECT_NEAR(levelled, observed, 0.05);         // the Platt fit matches the mean it was fitted on
}

TEST(PredictorFollowingThePolicy, EachObservationRecordsTheModelThatScoredIt) {
  absl::StatusOr<PassRatePredictor> predictor = PassRatePredictor::Create(testing::SyntheticSchema(), {});
  ASSERT_TRUE(predictor.ok());
  PromptFeatures features = SyntheticWorld{}.Prompt("a", 0).features;
  features.model_digest = "sha256:0123";
  ASSERT_TRUE(predictor->Observe("a", *predictor->Encode(features), 3, 8).ok());
  EXPECT_EQ(predictor->state().observations.back().features.model_digest, "sha256:0123");
}

TEST(PredictorFollowingThePolicy, BadSettingsAreRefused) {
  PredictorConfig config;
  config.recency_half_life_groups = -1;
  EXPECT_FALSE(ValidatePredictorConfig(config).ok());
  config.recency_half_life_groups = std::nan("");
  EXPECT_FALSE(ValidatePredictorConfig(config).ok());
  config = {};
  config.recalibration_groups = 0;
  EXPECT_FALSE(ValidatePredictorConfig(config).ok());
  config = {};
  config.quality_window_groups = 0;
  EXPECT_FALSE(ValidatePredictorConfig(config).ok());
  config = {};
  config.recalibrate = true;
  config.holdout_modulus = 0;
  const absl::Status status = ValidatePredictorConfig(config);
  EXPECT_NE(status.message().find("recalibrate needs held-out groups"), std::string::npos) << status;
}

// --- the plugin's forward quality windows ---------------------------------------------------------

PromptInfo Info(const std::string& id) {
  PromptInfo info;
  info.id = id;
  info.prompt = "What is 2 + 2?";
  return info;
}

TEST(ForwardQuality, WindowsHoldTheDecisionsPredictionsAgainstTheOutcomesAfter) {
  PluginConfig config = testing::FastLearningConfig();
  config.predictor.quality_window_groups = 4;
  std::unique_ptr<TrainerPlugin> plugin = testing::MakePlugin(config);
  const SyntheticWorld world;
  std::vector<double> predicted, expected;
  std::vector<double> observed;
  for (int i = 0; i < 10; ++i) {
    const std::string id = "w" + std::to_string(i);
    const Decision d = (*plugin->Decide({Info(id)}, {world.Prompt(id, 0).features}))[0];
    ASSERT_EQ(d.kind, DecisionKind::kKeep);
    predicted.push_back(d.prediction->pass_rate);
    expected.push_back(*d.expected_pass_rate);
    std::vector<double> rewards(8, 0.0);
    for (int k = 0; k < i % 5; ++k) rewards[k] = 1.0;
    observed.push_back((i % 5) / 8.0);
    ASSERT_TRUE(plugin->Observe(id, rewards).ok());
  }
  const ForwardQuality forward = plugin->Stats().counters.forward;
  ASSERT_EQ(forward.closed.size(), 2u);
  EXPECT_EQ(forward.closed[0].first_group, 1);
  EXPECT_EQ(forward.closed[1].first_group, 5);
  EXPECT_EQ(forward.open.size(), 2u);
  EXPECT_EQ(forward.open_first_group, 9);
  for (int w = 0; w < 2; ++w) {
    double mean_predicted = 0, mean_expected = 0, mean_observed = 0;
    for (int i = 4 * w; i < 4 * w + 4; ++i) {
      mean_predicted += predicted[i] / 4;
      mean_expected += expected[i] / 4;
      mean_observed += observed[i] / 4;
    }
    EXPECT_EQ(forward.closed[w].predicted.groups, 4);
    EXPECT_NEAR(forward.closed[w].predicted.mean_predicted_pass_rate, mean_predicted, 1e-12);
    EXPECT_NEAR(forward.closed[w].expected.mean_predicted_pass_rate, mean_expected, 1e-12);
    EXPECT_NEAR(forward.closed[w].predicted.mean_observed_pass_rate, mean_observed, 1e-12);
  }
  // Window 0 holds groups with 0, 1, 2 and 3 successes: one all-fail group, so an AUROC exists.
  EXPECT_EQ(forward.closed[0].predicted.zero_pass_groups, 1);
  EXPECT_TRUE(forward.closed[0].predicted.zero_pass_auroc.has_value());

  const nlohmann::json json = plugin->StatsJson()["forward_quality"];
  ASSERT_EQ(json["windows"].size(), 2u);
  EXPECT_EQ(json["windows"][1]["first_group"], 5);
  EXPECT_EQ(json["open_window"]["predicted"]["groups"], 2);
}

TEST(ForwardQuality, SurvivesACheckpointAndOlderCheckpointsStillLoad) {
  PluginConfig config = testing::FastLearningConfig();
  config.predictor.quality_window_groups = 3;
  config.predictor.recalibrate = true;
  config.predictor.min_holdout_groups = 1;
  std::unique_ptr<TrainerPlugin> plugin = testing::MakePlugin(config);
  testing::TrainerSim sim;
  for (int step = 0; step < 8; ++step) sim.Step(*plugin, step);
  ASSERT_FALSE(plugin->Stats().counters.forward.closed.empty());
  ASSERT_TRUE(plugin->Decide({Info("pending")}, {SyntheticWorld{}.Prompt("pending", 0).features}).ok());

  const testing::TempDir dir;
  const std::string path = dir.File("plugin.json");
  ASSERT_TRUE(plugin->Save(path).ok());
  std::unique_ptr<TrainerPlugin> restored = testing::MakePlugin(config);
  ASSERT_TRUE(restored->Load(path).ok());
  EXPECT_EQ(restored->StatsJson()["forward_quality"], plugin->StatsJson()["forward_quality"]);
  // The pending decision's expected pass rate came back: observing it closes the same window.
  ASSERT_TRUE(plugin->Observe("pending", std::vector<double>(8, 1.0)).ok());
  ASSERT_TRUE(restored->Observe("pending", std::vector<double>(8, 1.0)).ok());
  EXPECT_EQ(restored->StatsJson()["forward_quality"], plugin->StatsJson()["forward_quality"]);
  const std::string resaved = dir.File("again.json");
  ASSERT_TRUE(plugin->Save(path).ok());
  ASSERT_TRUE(restored->Save(resaved).ok());
  std::ifstream a(path), b(resaved);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(a), {}), std::string(std::istreambuf_iterator<char>(b), {}));

  // A checkpoint written before these fields existed: no forward windows, no calibration, no
  // digests, no expected pass rates on pending decisions. It loads, with empty windows.
  nlohmann::json doc = nlohmann::json::parse(std::ifstream(path));
  doc["state"]["counters"].erase("forward");
  doc["state"]["predictor"].erase("calibration");
  for (auto& o : doc["state"]["predictor"]["observations"]) o.erase("model_digest");
  for (auto& [id, p] : doc["state"]["pending"].items()) p.erase("expected_pass_rate");
  doc["checksum"] = absl::StrFormat("fnv1a64:%016x", StableHash64(doc["state"].dump()));
  const std::string old_path = dir.File("old.json");
  std::ofstream(old_path) << doc.dump();
  std::unique_ptr<TrainerPlugin> old = testing::MakePlugin(config);
  const absl::Status loaded = old->Load(old_path);
  ASSERT_TRUE(loaded.ok()) << loaded;
  EXPECT_TRUE(old->Stats().counters.forward.closed.empty());
}

}  // namespace
}  // namespace sparsegate::plugin

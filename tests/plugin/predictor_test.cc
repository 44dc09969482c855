// The predictor learning from synthetic outcomes. The true pass rate depends, with noise, on two
// of the 14 metrics and on length, and top10_energy's true sign is the opposite of the prior's
// default ("sparser = harder"). Held-out AUROC must rise from the prior's (at or below chance) to
// well above it as outcomes arrive, and calibration error must fall. The numbers are computed and
// printed, not asserted as constants.
#include <gtest/gtest.h>

#include <cstdio>

#include "tests/plugin/synthetic.h"
#include "trainer_plugin/plugin.h"
#include "trainer_plugin/predictor/predictor.h"

namespace sparsegate::plugin {
namespace {

using testing::CountSuccesses;
using testing::SyntheticPrompt;
using testing::SyntheticWorld;

constexpr int kGroupSize = 8;

struct LearningCurvePoint {
  int observed = 0;
  QualitySummary quality;
  PredictionSource active = PredictionSource::kPrior;
};

PassRatePredictor MakePredictor(PredictorConfig config = {}) {
  absl::StatusOr<PassRatePredictor> predictor = PassRatePredictor::Create(testing::SyntheticSchema(), config);
  EXPECT_TRUE(predictor.ok()) << predictor.status();
  return *std::move(predictor);
}

// A fixed evaluation set with observed outcomes, never shown to the predictor.
std::vector<ObservedGroup> EvaluationSet(const PassRatePredictor& predictor, const SyntheticWorld& world, int size) {
  std::vector<ObservedGroup> groups;
  for (int i = 0; i < size; ++i) {
    const SyntheticPrompt p = world.Prompt("eval-", i);
    absl::StatusOr<EncodedPrompt> encoded = predictor.Encode(p.features);
    EXPECT_TRUE(encoded.ok());
    const int32_t successes = CountSuccesses(world.Rewards(p, 0, kGroupSize));
    groups.push_back({p.id, *encoded, successes, kGroupSize});
  }
  return groups;
}

// Streams `total` training prompts in batches as a trainer would: reference, predict, observe,
// refit. Returns the quality on the evaluation set before the first outcome (the prior, with the
// first batch as its reference) and after each batch.
std::vector<LearningCurvePoint> Learn(PassRatePredictor& predictor, const SyntheticWorld& world, int total,
                                      int batch, const std::vector<ObservedGroup>& evaluation) {
  std::vector<LearningCurvePoint> curve;
  for (int start = 0; start < total; start += batch) {
    std::vector<std::string> ids;
    std::vector<EncodedPrompt> encoded;
    std::vector<SyntheticPrompt> prompts;
    for (int i = start; i < start + batch; ++i) {
      prompts.push_back(world.Prompt("train-", i));
      ids.push_back(prompts.back().id);
      absl::StatusOr<EncodedPrompt> e = predictor.Encode(prompts.back().features);
      EXPECT_TRUE(e.ok()) << e.status();
      encoded.push_back(*e);
    }
    predictor.AddToReference(ids, encoded);
    if (curve.empty()) curve.push_back({0, predictor.Evaluate(evaluation), predictor.Quality().active});
    for (size_t i = 0; i < prompts.size(); ++i) {
      const int32_t successes = CountSuccesses(world.Rewards(prompts[i], 0, kGroupSize));
      EXPECT_TRUE(predictor.Observe(ids[i], encoded[i], successes, kGroupSize).ok());
    }
    EXPECT_TRUE(predictor.Refit().ok());
    curve.push_back({start + batch, predictor.Evaluate(evaluation), predictor.Quality().active});
  }
  return curve;
}

void Print(const char* name, const std::vector<LearningCurvePoint>& curve) {
  for (const LearningCurvePoint& p : curve) {
    std::printf("%s observed=%4d active=%-10s auroc(pass@8=0)=%.3f ece=%.3f log_loss=%.3f\n", name, p.observed,
                std::string(PredictionSourceName(p.active)).c_str(), p.quality.zero_pass_auroc.value_or(-1),
                p.quality.expected_calibration_error.value_or(-1), p.quality.mean_log_loss.value_or(-1));
  }
}

TEST(Predictor, LearnsTheTrueSignFromOutcomes) {
  SyntheticWorld world;
  PassRatePredictor predictor = MakePredictor();
  const std::vector<ObservedGroup> evaluation = EvaluationSet(predictor, world, 1500);
  const std::vector<LearningCurvePoint> curve = Learn(predictor, world, 600, 50, evaluation);
  Print("metrics", curve);

  const LearningCurvePoint& first = curve.front();
  const LearningCurvePoint& last = curve.back();
  // The prior reads top10_energy the wrong way round for this world: chance or worse.
  ASSERT_TRUE(first.quality.zero_pass_auroc.has_value());
  EXPECT_LT(*first.quality.zero_pass_auroc, 0.5);
  EXPECT_EQ(first.active, PredictionSource::kPrior);
  // After a few hundred observed prompts the supervised model has taken over and ranks well.
  EXPECT_EQ(last.active, PredictionSource::kSupervised);
  EXPECT_GT(*last.quality.zero_pass_auroc, 0.75);
  EXPECT_GT(*last.quality.zero_pass_auroc, *first.quality.zero_pass_auroc + 0.3);
  EXPECT_LT(*last.quality.expected_calibration_error, 0.5 * *first.quality.expected_calibration_error);
  EXPECT_LT(*last.quality.mean_log_loss, *first.quality.mean_log_loss);
  // The takeover waits for min_training_groups (64) training groups.
  for (const LearningCurvePoint& p : curve) {
    if (p.observed < 64) {
      EXPECT_EQ(p.active, PredictionSource::kPrior) << p.observed;
    }
  }

  // It learned the signs: top10_energy up means easier here, heavy-tail fraction up means harder.
  const SupervisedFit& fit = *predictor.state().fit;
  EXPECT_GT(fit.model.weights[testing::kTop10EnergyColumn], 0.3);
  EXPECT_LT(fit.model.weights[testing::kHeavyTailColumn], -0.3);
  EXPECT_LT(fit.model.weights[14], -0.3);  // log(token_count): longer is harder

  // Its own held-out report agrees: the supervised model beats the prior on held-out prompts.
  const PredictorQuality quality = predictor.Quality();
  std::printf("held-out report: training=%lld holdout=%lld prior auroc=%.3f ece=%.3f; supervised auroc=%.3f ece=%.3f\n",
              static_cast<long long>(quality.training_groups), static_cast<long long>(quality.holdout_groups),
              quality.prior.zero_pass_auroc.value_or(-1), quality.prior.expected_calibration_error.value_or(-1),
              quality.supervised->zero_pass_auroc.value_or(-1),
              quality.supervised->expected_calibration_error.value_or(-1));
  EXPECT_GT(quality.holdout_groups, 60);
  EXPECT_EQ(quality.training_groups + quality.holdout_groups, 600);
  ASSERT_TRUE(quality.supervised.has_value());
  EXPECT_GT(*quality.supervised->zero_pass_auroc, *quality.prior.zero_pass_auroc);
  EXPECT_LT(*quality.supervised->mean_log_loss, *quality.prior.mean_log_loss);
}

TEST(Predictor, HiddenProbeLearnsASignalOnlyTheHiddenVectorCarries) {
  SyntheticWorld world;
  world.hidden_size = 256;
  world.metric_weight = 0;
  world.hidden_weight = 2.0;
  PassRatePredictor predictor = MakePredictor();
  const std::vector<ObservedGroup> evaluation = EvaluationSet(predictor, world, 1000);
  const std::vector<LearningCurvePoint> curve = Learn(predictor, world, 600, 100, evaluation);
  Print("hidden", curve);
  EXPECT_TRUE(predictor.state().fit->uses_hidden);
  EXPECT_EQ(curve.back().active, PredictionSource::kSupervised);
  EXPECT_GT(*curve.back().quality.zero_pass_auroc, 0.75);
  EXPECT_GT(*curve.back().quality.zero_pass_auroc, *curve[1].quality.zero_pass_auroc);  // still rising after 100

  // Without the probe, only length is informative: clearly worse.
  PredictorConfig no_probe;
  no_probe.hidden_probe_dims = 0;
  PassRatePredictor blind = MakePredictor(no_probe);
  const std::vector<LearningCurvePoint> blind_curve =
      Learn(blind, world, 600, 100, EvaluationSet(blind, world, 1000));
  EXPECT_LT(*blind_curve.back().quality.zero_pass_auroc, *curve.back().quality.zero_pass_auroc - 0.05);
}

TEST(Predictor, RefitIsANoOpWithoutNewOutcomes) {
  SyntheticWorld world;
  PassRatePredictor predictor = MakePredictor();
  Learn(predictor, world, 100, 100, {});
  const std::vector<double> weights = predictor.state().fit->model.weights;
  ASSERT_TRUE(predictor.Refit().ok());
  EXPECT_EQ(predictor.state().fit->model.weights, weights);
}

TEST(Predictor, NoFitUntilBothOutcomesAppear) {
  PassRatePredictor predictor = MakePredictor();
  SyntheticWorld world;
  for (int i = 0; i < 100; ++i) {
    const SyntheticPrompt p = world.Prompt("x", i);
    ASSERT_TRUE(predictor.Observe(p.id, *predictor.Encode(p.features), 0, kGroupSize).ok());
  }
  ASSERT_TRUE(predictor.Refit().ok());
  EXPECT_FALSE(predictor.state().fit.has_value());
  EXPECT_EQ(predictor.Quality().active, PredictionSource::kPrior);
}

TEST(Predictor, ExplicitReferenceAndPriorColumn) {
  PredictorConfig config;
  config.prior.metric_column = "layer4/last_token/heavy_tail_fraction";
  config.prior.direction = PriorDirection::kLowerIsHarder;
  PassRatePredictor predictor = MakePredictor(config);
  std::vector<PromptFeatures> reference;
  for (int i = 0; i < 100; ++i) {
    PromptFeatures f;
    f.metrics.assign(14, 0.0f);
    f.metrics[0] = static_cast<float>(i);  // heavy_tail_fraction 0..99
    f.token_count = 50;
    reference.push_back(f);
  }
  ASSERT_TRUE(predictor.SetReference(reference).ok());
  PromptFeatures probe = reference[10];  // the 10th lowest: lower is harder, so fairly hard
  const Prediction p = predictor.Predict(*predictor.Encode(probe));
  EXPECT_EQ(p.source, PredictionSource::kPrior);
  // Percentile (10 + 0.5) / 100 = 0.105, hardness 0.895: 0.8 - 0.75 * 0.895.
  EXPECT_NEAR(p.pass_rate, 0.8 - 0.75 * 0.895, 1e-9);
  // An explicit reference is not replaced by prompts seen later.
  predictor.AddToReference({"other"}, {*predictor.Encode(probe)});
  EXPECT_TRUE(predictor.state().seen_reference.empty());
}

TEST(Predictor, RejectsBadInputAndConfig) {
  PassRatePredictor predictor = MakePredictor();
  PromptFeatures wrong;
  wrong.metrics.assign(3, 0.5f);
  wrong.token_count = 10;
  EXPECT_EQ(predictor.Encode(wrong).status().code(), absl::StatusCode::kInvalidArgument);
  PromptFeatures nan;
  nan.metrics.assign(14, 0.5f);
  nan.metrics[5] = std::nanf("");
  nan.token_count = 10;
  const absl::Status s = predictor.Encode(nan).status();
  EXPECT_NE(s.message().find("top5_mass"), std::string::npos) << s;
  nan.metrics[5] = 0.5f;
  nan.token_count = 0;
  EXPECT_FALSE(predictor.Encode(nan).ok());
  EXPECT_FALSE(predictor.Observe("p", *predictor.Encode(testing::SyntheticWorld{}.Prompt("p", 0).features), 9, 8).ok());

  PredictorConfig config;
  config.prior.metric_column = "no/such/column";
  EXPECT_FALSE(PassRatePredictor::Create(testing::SyntheticSchema(), config).ok());
  EXPECT_FALSE(PassRatePredictor::Create(FeatureSchema{{"a", "b"}}, PredictorConfig{}).ok());  // no top10_energy
  EXPECT_FALSE(PassRatePredictor::Create(FeatureSchema{{"x/top10_energy", "x/top10_energy"}}, PredictorConfig{}).ok());
  config = PredictorConfig{};
  config.holdout_modulus = 1;
  EXPECT_FALSE(PassRatePredictor::Create(testing::SyntheticSchema(), config).ok());
}

TEST(Predictor, HoldoutIsStableAndAboutOneInFive) {
  PassRatePredictor predictor = MakePredictor();
  int held = 0;
  for (int i = 0; i < 5000; ++i) held += predictor.IsHoldout("prompt-" + std::to_string(i));
  EXPECT_NEAR(held / 5000.0, 0.2, 0.02);
  EXPECT_EQ(predictor.IsHoldout("prompt-17"), MakePredictor().IsHoldout("prompt-17"));
}

}  // namespace
}  // namespace sparsegate::plugin

namespace sparsegate::plugin {
namespace {

// The length-only baseline reads nothing but the length: two prompts of equal length and very
// different metrics get the same prediction, before and after it learns from outcomes.
TEST(LengthOnlyPredictor, IgnoresEverythingButTheLength) {
  PluginConfig config;
  config.predictor.length_only = true;
  config.predictor.min_training_groups = 8;
  config.predictor.holdout_modulus = 0;
  auto plugin = TrainerPlugin::Create(testing::SyntheticSchema(), config);
  ASSERT_TRUE(plugin.ok()) << plugin.status();
  testing::SyntheticWorld world;
  for (int i = 0; i < 40; ++i) {
    testing::SyntheticPrompt p = world.Prompt("train", i);
    ASSERT_TRUE((*plugin)->Decide({{p.id, "x", std::nullopt}}, {p.features}).ok());
    ASSERT_TRUE((*plugin)->Observe(p.id, world.Rewards(p, 0, 8)).ok());
  }
  PromptFeatures a = world.Prompt("a", 0).features, b = a;
  for (float& m : b.metrics) m = 1.0f - m;
  auto decided = (*plugin)->Decide({{"a", "x", std::nullopt}, {"b", "y", std::nullopt}}, {a, b});
  ASSERT_TRUE(decided.ok()) << decided.status();
  ASSERT_TRUE((*decided)[0].prediction && (*decided)[1].prediction);
  EXPECT_DOUBLE_EQ((*decided)[0].prediction->pass_rate, (*decided)[1].prediction->pass_rate);
  b.token_count *= 4;
  auto longer = (*plugin)->Decide({{"b", "y", std::nullopt}}, {b});
  ASSERT_TRUE(longer.ok());
  EXPECT_NE((*longer)[0].prediction->pass_rate, (*decided)[0].prediction->pass_rate);
}

}  // namespace
}  // namespace sparsegate::plugin

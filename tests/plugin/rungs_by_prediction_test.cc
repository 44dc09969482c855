// Hint rungs chosen by prediction (PolicyConfig::rungs_by_prediction): the band rule on scripted
// predictions, with known answers; the prompt's own groups moving the choice; the predictor's hint
// column learning what a hint adds; the facade scoring, deciding and learning with hinted variants;
// and checkpoints, new and old.
#include <gtest/gtest.h>

#include <fstream>

#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"
#include "tests/plugin/trainer_sim.h"
#include "trainer_plugin/policy/policy.h"
#include "trainer_plugin/predictor/predictor.h"
#include "trainer_plugin/stable_hash.h"

namespace sparsegate::plugin {
namespace {

using testing::SyntheticWorld;

const std::vector<double> kAllZero(8, 0.0);
const std::vector<double> kHalf = {1, 1, 1, 1, 0, 0, 0, 0};

PolicyConfig ByPrediction() {
  PolicyConfig config;
  config.rungs_by_prediction = true;
  return config;
}

Policy MakePolicy(PolicyConfig config = ByPrediction()) {
  absl::StatusOr<Policy> policy = Policy::Create(std::move(config));
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *std::move(policy);
}

Prediction Supervised(double p) { return {p, PredictionSource::kSupervised}; }

PolicyDecision DecideWith(Policy& policy, const std::vector<double>& rungs, const std::string& id = "p") {
  return policy.Decide(id, /*has_reference=*/true, Supervised(rungs[0]), rungs);
}

TEST(RungsByPrediction, TheSmallestRungInsideTheBandIsChosen) {
  Policy policy = MakePolicy();
  const PolicyDecision d = DecideWith(policy, {0.05, 0.1, 0.3, 0.9});
  EXPECT_EQ(d.kind, DecisionKind::kGuide);
  EXPECT_EQ(d.hint_level, 2);  // 0.3 is the first inside [0.2, 0.8]; 0.9 is outside anyway
  EXPECT_DOUBLE_EQ(d.hint_fraction, 0.5);
  EXPECT_EQ(d.rung_pass_rates, (std::vector<double>{0.05, 0.1, 0.3, 0.9}));
  ASSERT_TRUE(d.rung_prior.has_value());
  EXPECT_DOUBLE_EQ(*d.rung_prior, 0.3);
  EXPECT_DOUBLE_EQ(policy.ExpectedPassRate("p", d, Supervised(0.05)), 0.3);
  EXPECT_NE(d.reason.find("by prediction"), std::string::npos) << d.reason;
}

TEST(RungsByPrediction, AHintNeverLowersAPredictionAndTheNearestRungWinsOutsideTheBand) {
  Policy policy = MakePolicy();
  // 0.5 at rung 1 carries up to rungs 2 and 3 (running maximum): rung 1, the smallest inside.
  PolicyDecision d = DecideWith(policy, {0.05, 0.5, 0.3, 0.4}, "a");
  EXPECT_EQ(d.hint_level, 1);
  EXPECT_EQ(d.rung_pass_rates, (std::vector<double>{0.05, 0.5, 0.5, 0.5}));
  // Nothing reaches the band: the top rung is nearest it.
  d = DecideWith(policy, {0.01, 0.02, 0.05, 0.1}, "b");
  EXPECT_EQ(d.hint_level, 3);
  // Everything above the band: unhinted is nearest (ties go to the smaller rung).
  d = DecideWith(policy, {0.9, 0.95, 0.95, 0.99}, "c");
  EXPECT_EQ(d.kind, DecisionKind::kKeep);
  EXPECT_EQ(d.hint_level, 0);
  EXPECT_NE(d.reason.find("unhinted by prediction"), std::string::npos) << d.reason;
  // Inside the band unhinted: no hint.
  EXPECT_EQ(DecideWith(policy, {0.4, 0.6, 0.8, 0.9}, "d").kind, DecisionKind::kKeep);
}

TEST(RungsByPrediction, ThePromptsOwnGroupsMoveTheChoiceAndTheTopRungStillQuarantines) {
  Policy policy = MakePolicy();
  const std::vector<double> rungs = {0.05, 0.1, 0.3, 0.6};
  ASSERT_EQ(DecideWith(policy, rungs).hint_level, 2);
  ASSERT_TRUE(policy.Observe("p", kAllZero).ok());
  // Rung 2 now expects (0 + 8 x 0.3) / (8 + 8) = 0.15, below the band; rung 3 still 0.6.
  PolicyDecision d = DecideWith(policy, rungs);
  EXPECT_EQ(d.hint_level, 3);
  EXPECT_NEAR(d.rung_pass_rates[2], 0.15, 1e-12);
  ASSERT_TRUE(policy.Observe("p", kHalf).ok());
  // Rung 3 expects (4 + 8 x 0.6) / (8 + 8) = 0.55.
  d = DecideWith(policy, rungs);
  EXPECT_EQ(d.hint_level, 3);
  EXPECT_NEAR(policy.ExpectedPassRate("p", d, Supervised(0.05)), 0.55, 1e-12);
  // A later prediction that rung 1 now suffices takes the prompt straight down to it.
  EXPECT_EQ(DecideWith(policy, {0.1, 0.5, 0.6, 0.7}).hint_level, 1);
  // All-zero at the top rung quarantines, as on the ladder.
  ASSERT_EQ(DecideWith(policy, rungs).hint_level, 3);
  ASSERT_TRUE(policy.Observe("p", kAllZero).ok());
  EXPECT_EQ(DecideWith(policy, rungs).kind, DecisionKind::kDrop);
}

TEST(RungsByPrediction, WithoutRungPredictionsTheLadderDecides) {
  Policy policy = MakePolicy();
  // No rung predictions (the prior is active, or the variants were not scored): the ladder.
  PolicyDecision d = policy.Decide("p", true, Supervised(0.05));
  EXPECT_EQ(d.hint_level, 1);  // start_rung_below: 0.05 < 0.10
  EXPECT_TRUE(d.rung_pass_rates.empty());
  EXPECT_FALSE(d.rung_prior.has_value());
  // A prompt without a reference is never hinted, whatever the rungs say.
  d = policy.Decide("q", false, Supervised(0.05), {0.05, 0.3, 0.5, 0.7});
  EXPECT_EQ(d.kind, DecisionKind::kKeep);
  // With the option off, rung predictions are ignored.
  Policy ladder = MakePolicy(PolicyConfig{});
  EXPECT_EQ(DecideWith(ladder, {0.05, 0.1, 0.3, 0.9}).hint_level, 1);
}

TEST(RungsByPrediction, HopelessEvenAtTheTopRungIsDroppedWhenAskedAndBandsAreChecked) {
  PolicyConfig config = ByPrediction();
  config.drop_hopeless_below = 0.05;
  Policy policy = MakePolicy(config);
  PolicyDecision d = DecideWith(policy, {0.001, 0.01, 0.02, 0.04});
  EXPECT_EQ(d.kind, DecisionKind::kDrop);
  EXPECT_NE(d.reason.find("even at the top rung"), std::string::npos) << d.reason;

  config = ByPrediction();
  config.rung_band_low = 0.6;
  config.rung_band_high = 0.4;
  absl::StatusOr<Policy> bad = Policy::Create(config);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("rung_band_low"), std::string::npos) << bad.status();
}

// A world where a hint of fraction f adds 4 x f to the logit of the pass rate, and the hinted
// variant's features are the prompt's with a longer token count (the hint's tokens).
struct HintedWorld {
  SyntheticWorld world;
  double hint_logit = 4.0;

  PromptFeatures Variant(const testing::SyntheticPrompt& p, double fraction) const {
    PromptFeatures f = p.features;
    f.token_count += static_cast<int32_t>(80 * fraction);
    return f;
  }
  double PassRate(const testing::SyntheticPrompt& p, double fraction) const {
    return Sigmoid(std::log(p.true_pass_rate / (1 - p.true_pass_rate)) + hint_logit * fraction);
  }
  int32_t Successes(const testing::SyntheticPrompt& p, double fraction, uint64_t draw, int trials) const {
    int32_t s = 0;
    for (int k = 0; k < trials; ++k) {
      s += testing::Uniform(world.seed + 11, StableHash64(p.id), draw * 1000 + static_cast<uint64_t>(k)) <
           PassRate(p, fraction);
    }
    return s;
  }
};

TEST(RungsByPrediction, TheHintColumnLearnsWhatAHintAdds) {
  PredictorConfig config;
  config.hint_fraction_column = true;
  config.min_training_groups = 16;
  config.min_holdout_groups = 4;
  absl::StatusOr<PassRatePredictor> predictor = PassRatePredictor::Create(testing::SyntheticSchema(), config);
  ASSERT_TRUE(predictor.ok()) << predictor.status();
  const HintedWorld hinted;
  const std::vector<double> fractions = {0, 0.25, 0.5, 0.75};
  for (uint64_t i = 0; i < 400; ++i) {
    const testing::SyntheticPrompt p = hinted.world.Prompt("h", i);
    const double f = fractions[i % fractions.size()];
    absl::StatusOr<EncodedPrompt> e = predictor->Encode(hinted.Variant(p, f));
    ASSERT_TRUE(e.ok());
    e->hint_fraction = f;
    ASSERT_TRUE(predictor->Observe(p.id, *e, hinted.Successes(p, f, 0, 8), 8).ok());
  }
  ASSERT_TRUE(predictor->Refit().ok());
  ASSERT_TRUE(predictor->state().fit.has_value());
  EXPECT_TRUE(predictor->state().fit->uses_hint_fraction);
  // On fresh prompts, the predicted gain of the top rung over none follows the world's.
  double predicted_gain = 0, true_gain = 0;
  for (uint64_t i = 0; i < 200; ++i) {
    const testing::SyntheticPrompt p = hinted.world.Prompt("fresh", i);
    absl::StatusOr<EncodedPrompt> plain = predictor->Encode(hinted.Variant(p, 0));
    absl::StatusOr<EncodedPrompt> top = predictor->Encode(hinted.Variant(p, 0.75));
    ASSERT_TRUE(plain.ok() && top.ok());
    top->hint_fraction = 0.75;
    predicted_gain += *predictor->SupervisedPassRate(*top) - *predictor->SupervisedPassRate(*plain);
    true_gain += hinted.PassRate(p, 0.75) - hinted.PassRate(p, 0);
  }
  EXPECT_GT(true_gain / 200, 0.3);
  EXPECT_NEAR(predicted_gain / 200, true_gain / 200, 0.1);

  // Without the column the hinted groups are not evidence of the unhinted pass rate: left out.
  config.hint_fraction_column = false;
  absl::StatusOr<PassRatePredictor> plain =
      PassRatePredictor::Restore(testing::SyntheticSchema(), config, predictor->state());
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_FALSE(plain->state().fit.has_value());  // fitted with the column: refitted at the next Refit
  ASSERT_TRUE(plain->Refit().ok());
  const PredictorQuality quality = plain->Quality();
  EXPECT_EQ(quality.training_groups + quality.holdout_groups, 100);
  EXPECT_FALSE(plain->state().fit->uses_hint_fraction);
}

// A trainer loop with the plugin: hinted variants for the prompts with a reference, rewards from
// HintedWorld.
struct HintedTrainer {
  testing::TrainerSim sim;
  HintedWorld hinted;
  int64_t variants_given = 0;

  std::vector<std::vector<PromptFeatures>> Variants(const TrainerPlugin& plugin, int step) const {
    const std::vector<PromptInfo> batch = sim.Batch(step);
    const std::vector<PromptFeatures> features = sim.Features(step);
    const std::vector<int> indices = sim.Indices(step);
    std::vector<std::vector<PromptFeatures>> variants(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      if (features[i].empty()) continue;
      const std::vector<HintedVariant> texts = plugin.HintedVariants(batch[i]);
      for (size_t r = 0; r < texts.size(); ++r) {
        variants[i].push_back(hinted.Variant(sim.PromptAt(indices[i]), plugin.config().policy.hint_ladder[r]));
      }
    }
    return variants;
  }

  std::vector<Decision> Step(TrainerPlugin& plugin, int step) {
    const std::vector<std::vector<PromptFeatures>> variants = Variants(plugin, step);
    for (const auto& v : variants) variants_given += static_cast<int64_t>(v.size());
    absl::StatusOr<std::vector<Decision>> decisions =
        plugin.Decide(sim.Batch(step), sim.Features(step), nullptr, variants);
    EXPECT_TRUE(decisions.ok()) << decisions.status();
    if (!decisions.ok()) return {};
    const std::vector<int> indices = sim.Indices(step);
    for (size_t i = 0; i < decisions->size(); ++i) {
      const Decision& d = (*decisions)[i];
      if (d.kind != DecisionKind::kKeep && d.kind != DecisionKind::kGuide) continue;
      const int32_t s = hinted.Successes(sim.PromptAt(indices[i]), d.hint_fraction, static_cast<uint64_t>(step), 8);
      std::vector<double> rewards(8, 0.0);
      for (int k = 0; k < s; ++k) rewards[k] = 1.0;
      EXPECT_TRUE(plugin.Observe(d.prompt_id, rewards).ok());
    }
    return *decisions;
  }
};

PluginConfig RungsConfig() {
  PluginConfig config = testing::FastLearningConfig();
  config.policy.rungs_by_prediction = true;
  return config;
}

size_t BandChoice(const std::vector<double>& rates, double low, double high) {
  auto distance = [&](double p) { return p < low ? low - p : std::max(0.0, p - high); };
  size_t best = 0;
  for (size_t r = 1; r < rates.size(); ++r)
    if (distance(rates[r]) < distance(rates[best])) best = r;
  return best;
}

TEST(RungsByPrediction, ThePluginScoresDecidesAndLearnsWithHintedVariants) {
  std::unique_ptr<TrainerPlugin> plugin = testing::MakePlugin(RungsConfig());
  EXPECT_TRUE(plugin->config().predictor.hint_fraction_column);  // the option brings the column
  EXPECT_TRUE(plugin->HintedVariants(PromptInfo{"x", "q?", std::nullopt}).empty());  // no reference, no variants
  const std::vector<HintedVariant> texts = plugin->HintedVariants(PromptInfo{"x", "q?", testing::ReferenceSolution()});
  ASSERT_EQ(texts.size(), 3u);
  for (const HintedVariant& v : texts) EXPECT_EQ(v.prompt_text, "q?" + v.hint_text);
  EXPECT_LT(texts[0].hint_text.size(), texts[2].hint_text.size());

  HintedTrainer trainer;
  int by_prediction = 0;
  for (int step = 0; step < 16; ++step) {
    for (const Decision& d : trainer.Step(*plugin, step)) {
      if (d.rung_pass_rates.empty()) continue;
      ++by_prediction;
      ASSERT_EQ(d.rung_pass_rates.size(), 4u);
      EXPECT_EQ(static_cast<size_t>(d.hint_level), BandChoice(d.rung_pass_rates, 0.2, 0.8)) << d.reason;
      EXPECT_EQ(d.prediction->source, PredictionSource::kSupervised);
    }
  }
  EXPECT_GT(by_prediction, 20);
  const PluginStats stats = plugin->Stats();
  EXPECT_EQ(stats.counters.hint_variants_scored, trainer.variants_given);
  EXPECT_GT(stats.counters.hint_variant_tokens, stats.counters.hint_variants_scored);
  EXPECT_LE(stats.counters.guided_zero_pass_groups, stats.counters.guided_groups);
  // Hinted groups with successes trained the predictor, with their variant's fraction.
  int hinted_successes = 0;
  for (const ObservedGroup& g : plugin->Snapshot().predictor.observations) {
    if (g.features.hint_fraction > 0 && g.successes > 0) ++hinted_successes;
  }
  EXPECT_GT(hinted_successes, 0);

  // A checkpoint brings it all back: the next step decides identically.
  const testing::TempDir dir;
  ASSERT_TRUE(plugin->Save(dir.File("plugin.json")).ok());
  std::unique_ptr<TrainerPlugin> restored = testing::MakePlugin(RungsConfig());
  ASSERT_TRUE(restored->Load(dir.File("plugin.json")).ok());
  HintedTrainer again = trainer;
  const std::vector<Decision> a = trainer.Step(*plugin, 16);
  const std::vector<Decision> b = again.Step(*restored, 16);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(testing::Describe(a[i]), testing::Describe(b[i]));
    EXPECT_EQ(a[i].rung_pass_rates, b[i].rung_pass_rates);
  }

  // A checkpoint from before rungs by prediction: no hint column in the fit, no per-rung evidence,
  // no new counters, no hint fractions. It loads; the fit is made again with the column.
  nlohmann::json doc = nlohmann::json::parse(std::ifstream(dir.File("plugin.json")));
  nlohmann::json& state = doc["state"];
  state["predictor"]["fit"].erase("uses_hint_fraction");
  std::vector<nlohmann::json> unhinted;
  for (auto& o : state["predictor"]["observations"]) {
    if (!o["features"].contains("hint_fraction")) unhinted.push_back(o);
  }
  state["predictor"]["observations"] = unhinted;
  for (auto& [id, p] : state["pending"].items()) p["features"].erase("hint_fraction");
  for (auto& [id, h] : state["policy"]["prompts"].items()) {
    h.erase("rung_evidence_successes");
    h.erase("rung_evidence_trials");
  }
  for (const char* key : {"hint_variants_scored", "hint_variant_tokens", "guided_groups", "guided_zero_pass_groups"}) {
    state["counters"].erase(key);
  }
  doc["checksum"] = absl::StrFormat("fnv1a64:%016x", StableHash64(state.dump()));
  std::ofstream(dir.File("old.json")) << doc.dump();
  std::unique_ptr<TrainerPlugin> old = testing::MakePlugin(RungsConfig());
  const absl::Status loaded = old->Load(dir.File("old.json"));
  ASSERT_TRUE(loaded.ok()) << loaded;
  EXPECT_FALSE(old->Snapshot().predictor.fit.has_value());
  HintedTrainer later = trainer;
  later.Step(*old, 17);
  ASSERT_TRUE(old->Snapshot().predictor.fit.has_value());
  EXPECT_TRUE(old->Snapshot().predictor.fit->uses_hint_fraction);
}

TEST(RungsByPrediction, AVariantCountThatDoesNotMatchTheLadderIsRefusedAndChangesNothing) {
  std::unique_ptr<TrainerPlugin> plugin = testing::MakePlugin(RungsConfig());
  testing::TrainerSim sim;
  std::vector<std::vector<PromptFeatures>> variants(sim.batch_size);
  variants[0] = {sim.PromptAt(0).features, sim.PromptAt(0).features};  // two for a three-rung ladder
  absl::StatusOr<std::vector<Decision>> d = plugin->Decide(sim.Batch(0), sim.Features(0), nullptr, variants);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("2 hinted variants; the ladder has 3 rungs"), std::string::npos) << d.status();
  EXPECT_EQ(plugin->Stats().counters.hint_variants_scored, 0);
  EXPECT_EQ(plugin->Stats().tracked_prompts, 0);
  variants.resize(3);
  d = plugin->Decide(sim.Batch(0), sim.Features(0), nullptr, variants);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("hinted variants for 3"), std::string::npos) << d.status();
}

}  // namespace
}  // namespace sparsegate::plugin

// `sparsegate evaluate`'s verdicts on synthetic data where the answer is known. Each prompt has a
// level (the control) and a hidden difficulty z the level does not show; its 8 rollouts pass with
// probability sigmoid(level effect + 1.5 z). Three kinds of feature:
//   - signal: a metric reads z (with noise): it must add beyond the control, also within levels;
//   - copy: a metric reads only the level: it predicts well overall, but adds nothing beyond the
//     control and is at chance within a level;
//   - noise: it predicts nothing, overall or beyond length.
#include "apps/offline/evaluate/signal_evaluation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace sparsegate::offline {
namespace {

using json = nlohmann::json;

enum class Kind { kSignal, kCopy, kNoise };

SignalData Synthetic(Kind kind, bool hidden, uint64_t seed = 5) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_int_distribution<int> level_of(0, 3), length_of(12, 20);
  const double level_effect[4] = {-2.0, -0.7, 0.7, 2.0};
  SignalData d;
  d.schema = plugin::FeatureSchema::ForFeatureSets({"layer-1/last_token"});
  ControlColumn level{"level", false, {}, {"a", "b", "c", "d"}, {}};
  for (int i = 0; i < 800; ++i) {
    const int l = level_of(rng);
    const double z = normal(rng);
    const double p = 1 / (1 + std::exp(-(level_effect[l] + 1.5 * z)));
    d.ids.push_back("p" + std::to_string(i));
    d.group_of_row.push_back(i);
    d.successes.push_back(std::binomial_distribution<int>(8, p)(rng));
    d.trials.push_back(8);
    level.category_of_row.push_back(l);
    plugin::PromptFeatures f;
    f.token_count = length_of(rng);
    const double informative = kind == Kind::kSignal ? z : kind == Kind::kCopy ? level_effect[l] : normal(rng);
    for (size_t c = 0; c < d.schema.size(); ++c) f.metrics.push_back(static_cast<float>(c == 0 ? informative + 0.3 * normal(rng) : normal(rng)));
    if (hidden) {
      for (int k = 0; k < 6; ++k) f.hidden.push_back(static_cast<float>(k == 0 ? informative + 0.3 * normal(rng) : normal(rng)));
    }
    d.features.push_back(std::move(f));
  }
  d.controls.push_back(std::move(level));
  return d;
}

SignalOptions Options(bool predictor) {
  SignalOptions o;
  o.bootstrap = 300;
  o.fit.l2_grid = {1.0, 10.0};
  if (predictor) o.predictor = plugin::PredictorConfig{};
  return o;
}

const json& Family(const json& e, const std::string& name) {
  for (const json& f : e["families"])
    if (f["family"] == name) return f;
  ADD_FAILURE() << "no family " << name;
  return e;
}

const json& Result(const json& family, const std::string& model) {
  for (const json& r : family["results"])
    if (r["model"] == model) return r;
  ADD_FAILURE() << "no model " << model;
  return family;
}

bool Covers(const json& interval, double x) {
  return interval["low"].get<double>() <= x && x <= interval["high"].get<double>();
}

TEST(SignalEvaluationTest, FeaturesWithSignalBeyondTheControlAreReportedAsAdding) {
  auto e = EvaluateSignal(Synthetic(Kind::kSignal, true), Options(true));
  ASSERT_TRUE(e.ok()) << e.status();
  const json& overall = Family(*e, "overall");
  EXPECT_EQ(Verdict(Result(overall, "controls+metrics")["auroc_vs_controls"]), "they add");
  EXPECT_EQ(Verdict(Result(overall, "controls+probe")["auroc_vs_controls"]), "they add");
  EXPECT_GT(Result(overall, "controls+metrics")["auroc_vs_controls"]["low"].get<double>(), 0.0);
  // Within a level, the metric still ranks failures: the interval lies above chance.
  const json& within = Family(*e, "level");
  EXPECT_GT(Result(within, "metrics")["auroc"]["low"].get<double>(), 0.5);
  EXPECT_TRUE(Covers(Result(within, "length")["auroc"], 0.5));
  EXPECT_NE((*e)["headline"]["sentence"].get<std::string>().find("they add"), std::string::npos);
  // The plugin's predictor learns the metric too, and more with the control as an input.
  EXPECT_GT(Result(overall, "predictor")["auroc_vs_length"]["low"].get<double>(), 0.0);
  EXPECT_GT(Result(overall, "predictor+controls")["auroc"]["value"].get<double>(),
            Result(overall, "predictor")["auroc"]["value"].get<double>());
}

TEST(SignalEvaluationTest, FeaturesThatOnlyCopyTheControlAddNothingDetectable) {
  auto e = EvaluateSignal(Synthetic(Kind::kCopy, true), Options(false));
  ASSERT_TRUE(e.ok()) << e.status();
  const json& overall = Family(*e, "overall");
  // Overall they look useful: far above length alone...
  EXPECT_GT(Result(overall, "metrics")["auroc_vs_length"]["low"].get<double>(), 0.1);
  // ...but beyond the control they add nothing, and within a level they are at chance.
  EXPECT_EQ(Verdict(Result(overall, "controls+metrics")["auroc_vs_controls"]), "nothing detectable");
  EXPECT_EQ(Verdict(Result(overall, "controls+probe")["auroc_vs_controls"]), "nothing detectable");
  EXPECT_TRUE(Covers(Result(Family(*e, "level"), "metrics")["auroc"], 0.5));
  EXPECT_NE((*e)["headline"]["sentence"].get<std::string>().find("nothing detectable"), std::string::npos);
}

TEST(SignalEvaluationTest, NoiseFeaturesAddNothingBeyondLength) {
  SignalData d = Synthetic(Kind::kNoise, false);
  d.controls.clear();
  auto e = EvaluateSignal(d, Options(false));
  ASSERT_TRUE(e.ok()) << e.status();
  const json& overall = Family(*e, "overall");
  EXPECT_EQ(Verdict(Result(overall, "metrics")["auroc_vs_length"]), "nothing detectable");
  EXPECT_TRUE(Covers(Result(overall, "metrics")["auroc"], 0.5));
  EXPECT_TRUE(Covers(Result(overall, "metrics")["spearman"], 0.0));
  EXPECT_EQ((*e)["headline"]["baseline"], "length");
  // No controls and no hidden vectors: only the models that can be fitted.
  std::vector<std::string> names;
  for (const json& m : (*e)["models"]) names.push_back(m["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"length", "metrics"}));
}

TEST(SignalEvaluationTest, StrataTooSmallAreListedAndLeftOut) {
  SignalOptions o = Options(false);
  o.min_stratum_rows = 1000;  // more than any level holds
  auto e = EvaluateSignal(Synthetic(Kind::kSignal, false), o);
  ASSERT_TRUE(e.ok()) << e.status();
  const json& within = Family(*e, "level");
  EXPECT_EQ(within["eligible_strata"], 0);
  EXPECT_EQ(within["too_small"], 4);
  EXPECT_TRUE(Result(within, "metrics")["auroc"]["value"].is_null());
}

TEST(SignalEvaluationTest, RefusesMismatchedInput) {
  SignalData d = Synthetic(Kind::kNoise, false);
  d.trials.pop_back();
  EXPECT_EQ(EvaluateSignal(d, Options(false)).status().code(), absl::StatusCode::kInvalidArgument);
  SignalData one = Synthetic(Kind::kNoise, false);
  std::fill(one.group_of_row.begin(), one.group_of_row.end(), 0);
  EXPECT_EQ(EvaluateSignal(one, Options(false)).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sparsegate::offline

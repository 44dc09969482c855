// The filter report: counts, histograms and calibration bins against values worked out by hand,
// the quality numbers against predictor/quality.h on the same rows, reading output rows (and
// naming the bad key), and the HTML page: one chart per section, escaping, the JSON's numbers.
#include "apps/offline/filter/report.h"
#include "apps/offline/pages/html_page.h"
#include "apps/offline/pages/report_page.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "trainer_plugin/predictor/quality.h"

namespace sparsegate::offline {
namespace {

using json = nlohmann::json;
using plugin::ScoredOutcome;
using plugin::QualitySummary;
using plugin::ZeroPassAuroc;
using plugin::ExpectedCalibrationError;
using plugin::MeanLogLoss;

ReportRow Row(std::string decision, std::optional<double> predicted) {
  ReportRow r;
  r.decision = std::move(decision);
  r.predicted_pass_rate = predicted;
  r.prediction_source = predicted ? "supervised" : "";
  return r;
}

ReportRow WithOutcome(std::optional<double> predicted, int32_t successes, int32_t trials, bool holdout) {
  ReportRow r = Row("keep", predicted);
  r.successes = successes;
  r.trials = trials;
  r.holdout = holdout;
  return r;
}

const json& Decision(const json& report, const std::string& name) {
  for (const json& d : report.at("decisions")) {
    if (d.at("decision") == name) return d;
  }
  ADD_FAILURE() << "no decision " << name;
  static const json kNone;
  return kNone;
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

// keep: 0, .05, .25, .95, 1 (bins 0, 0, 2, 9, 9); guide: .15, .45 and one without; drop: .02 and
// one without; defer: none.
std::vector<ReportRow> DecisionRows() {
  return {Row("keep", 0.0),  Row("keep", 0.05),        Row("keep", 0.25),  Row("keep", 0.95),
          Row("keep", 1.0),  Row("guide", 0.15),       Row("guide", 0.45), Row("guide", std::nullopt),
          Row("drop", 0.02), Row("drop", std::nullopt)};
}

// Held out: bin 0 holds .05 (0/8) and .08 (1/8); bin 3 holds .35 (3/8), .32 (2/4), .33 (0/8); one
// held-out row has no prediction. In-sample only: .72 (6/8), .10 (0/4), and one without prediction.
std::vector<ReportRow> OutcomeRows() {
  return {WithOutcome(0.05, 0, 8, true),          WithOutcome(0.08, 1, 8, true),
          WithOutcome(0.35, 3, 8, true),          WithOutcome(0.32, 2, 4, true),
          WithOutcome(0.33, 0, 8, true),          WithOutcome(std::nullopt, 2, 8, true),
          WithOutcome(0.72, 6, 8, false),         WithOutcome(0.10, 0, 4, false),
          WithOutcome(std::nullopt, 1, 8, false), Row("drop", 0.5)};  // no outcome at all: in no quality number
}

TEST(BuildReport, CountsAndSharesPerDecision) {
  ReportContext context;
  context.rejected_rows = 2;
  const json report = BuildReport(DecisionRows(), context);
  const json& rows = report.at("rows");
  EXPECT_EQ(rows.at("total"), 10);
  EXPECT_EQ(rows.at("rejected"), 2);
  EXPECT_DOUBLE_EQ(rows.at("rejected_share").get<double>(), 2.0 / 12);
  EXPECT_EQ(rows.at("with_prediction"), 8);
  EXPECT_EQ(rows.at("without_prediction"), 2);
  EXPECT_EQ(rows.at("with_outcome"), 0);
  EXPECT_EQ(rows.at("prediction_sources").at("supervised"), 8);

  ASSERT_EQ(report.at("decisions").size(), 4u);
  const std::vector<std::string> order = {"keep", "guide", "drop", "defer"};
  const std::vector<int> counts = {5, 3, 2, 0};
  for (size_t i = 0; i < order.size(); ++i) {
    EXPECT_EQ(report.at("decisions")[i].at("decision"), order[i]);
    EXPECT_EQ(report.at("decisions")[i].at("rows"), counts[i]) << order[i];
    EXPECT_DOUBLE_EQ(report.at("decisions")[i].at("share").get<double>(), counts[i] / 10.0) << order[i];
  }
  EXPECT_FALSE(report.contains("outcome"));
}

TEST(BuildReport, HistogramsAndStatisticsPerDecision) {
  const json report = BuildReport(DecisionRows(), {});
  ASSERT_EQ(report.at("bin_edges").size(), 11u);
  EXPECT_DOUBLE_EQ(report.at("bin_edges")[3].get<double>(), 0.3);

  const json& keep = Decision(report, "keep").at("predicted_pass_rate");
  EXPECT_EQ(keep.at("histogram"), json({2, 0, 1, 0, 0, 0, 0, 0, 0, 2}));  // 0.0 in bin 0, 1.0 in bin 9
  EXPECT_EQ(keep.at("rows"), 5);
  EXPECT_EQ(keep.at("without_prediction"), 0);
  EXPECT_DOUBLE_EQ(keep.at("min").get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(keep.at("median").get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(keep.at("mean").get<double>(), 2.25 / 5);
  EXPECT_DOUBLE_EQ(keep.at("max").get<double>(), 1.0);

  const json& guide = Decision(report, "guide").at("predicted_pass_rate");
  EXPECT_EQ(guide.at("histogram"), json({0, 1, 0, 0, 1, 0, 0, 0, 0, 0}));
  EXPECT_EQ(guide.at("without_prediction"), 1);
  EXPECT_DOUBLE_EQ(guide.at("median").get<double>(), 0.3);  // even count: mean of the middle two

  const json& defer = Decision(report, "defer").at("predicted_pass_rate");
  EXPECT_EQ(defer.at("histogram"), json(std::vector<int>(10, 0)));
  EXPECT_TRUE(defer.at("min").is_null());
  EXPECT_TRUE(defer.at("median").is_null());
  EXPECT_TRUE(Decision(report, "defer").at("share").is_number());  // 0 of 10, not null

  EXPECT_TRUE(BuildReport({}, {}).at("decisions")[0].at("share").is_null());  // 0 of 0
}

TEST(BuildReport, UnknownDecisionsComeAfterTheFourKnownOnes) {
  const json report = BuildReport({Row("keep", 0.5), Row("skip", 0.5)}, {});
  ASSERT_EQ(report.at("decisions").size(), 5u);
  EXPECT_EQ(report.at("decisions")[4].at("decision"), "skip");
  EXPECT_EQ(report.at("decisions")[4].at("rows"), 1);
}

TEST(BuildReport, CalibrationBinsMatchHandComputation) {
  const json report = BuildReport(OutcomeRows(), {});
  ASSERT_TRUE(report.contains("outcome"));
  const json& outcome = report.at("outcome");
  EXPECT_EQ(outcome.at("rows"), 9);
  const json& held_out = outcome.at("held_out");
  EXPECT_EQ(held_out.at("rows"), 6);
  EXPECT_EQ(held_out.at("without_prediction"), 1);
  EXPECT_EQ(held_out.at("groups"), 5);
  EXPECT_EQ(held_out.at("zero_pass_groups"), 2);

  const json& bins = held_out.at("calibration");
  ASSERT_EQ(bins.size(), 2u);  // empty bins are left out
  // Bin 0: 1 success in 16 trials. Wilson, z = 1.95996, z^2 = 3.84146: center (1/16 + z^2/32) /
  // (1 + z^2/16) = 0.147203, half-width 0.136084 -> [0.011119, 0.283287].
  EXPECT_EQ(bins[0].at("bin"), 0);
  EXPECT_EQ(bins[0].at("groups"), 2);
  EXPECT_EQ(bins[0].at("successes"), 1);
  EXPECT_EQ(bins[0].at("trials"), 16);
  EXPECT_DOUBLE_EQ(bins[0].at("mean_predicted").get<double>(), 0.065);
  EXPECT_DOUBLE_EQ(bins[0].at("observed_pass_rate").get<double>(), 1.0 / 16);
  EXPECT_NEAR(bins[0].at("wilson_low").get<double>(), 0.011119, 1e-6);
  EXPECT_NEAR(bins[0].at("wilson_high").get<double>(), 0.283287, 1e-6);
  // Bin 3: 5 of 20 pooled (not the per-group mean, (3/8 + 2/4 + 0) / 3); Wilson [0.111862, 0.468701].
  EXPECT_EQ(bins[1].at("bin"), 3);
  EXPECT_DOUBLE_EQ(bins[1].at("low").get<double>(), 0.3);
  EXPECT_DOUBLE_EQ(bins[1].at("high").get<double>(), 0.4);
  EXPECT_NEAR(bins[1].at("mean_predicted").get<double>(), 1.0 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(bins[1].at("observed_pass_rate").get<double>(), 0.25);
  EXPECT_NEAR(bins[1].at("wilson_low").get<double>(), 0.111862, 1e-6);
  EXPECT_NEAR(bins[1].at("wilson_high").get<double>(), 0.468701, 1e-6);

  // In-sample adds bins 1 and 7. Bin 1 is 0 of 4: the interval is [0, z^2 / (4 + z^2)].
  const json& in_sample = outcome.at("in_sample");
  EXPECT_EQ(in_sample.at("rows"), 9);
  EXPECT_EQ(in_sample.at("without_prediction"), 2);
  EXPECT_EQ(in_sample.at("groups"), 7);
  ASSERT_EQ(in_sample.at("calibration").size(), 4u);
  const json& zero = in_sample.at("calibration")[1];
  EXPECT_EQ(zero.at("bin"), 1);
  const double z2 = 1.959963984540054 * 1.959963984540054;
  EXPECT_DOUBLE_EQ(zero.at("wilson_low").get<double>(), 0.0);
  EXPECT_NEAR(zero.at("wilson_high").get<double>(), z2 / (4 + z2), 1e-12);
}

TEST(BuildReport, QualityNumbersAreThoseOfQualityH) {
  const json report = BuildReport(OutcomeRows(), {});
  const std::vector<ScoredOutcome> held_out = {{0.05, 0, 8}, {0.08, 1, 8}, {0.35, 3, 8}, {0.32, 2, 4}, {0.33, 0, 8}};
  std::vector<ScoredOutcome> all = held_out;
  all.push_back({0.72, 6, 8});
  all.push_back({0.10, 0, 4});

  const json& h = report.at("outcome").at("held_out");
  // Positives (no success) score .95 and .67; negatives .92, .65, .68: .95 beats 3, .67 beats 1.
  ASSERT_TRUE(h.at("zero_pass_auroc").is_number());
  EXPECT_DOUBLE_EQ(h.at("zero_pass_auroc").get<double>(), *ZeroPassAuroc(held_out));
  EXPECT_NEAR(h.at("zero_pass_auroc").get<double>(), 4.0 / 6, 1e-12);
  EXPECT_DOUBLE_EQ(h.at("expected_calibration_error").get<double>(), *ExpectedCalibrationError(held_out));
  EXPECT_DOUBLE_EQ(h.at("mean_log_loss").get<double>(), *MeanLogLoss(held_out));

  const json& s = report.at("outcome").at("in_sample");
  EXPECT_DOUBLE_EQ(s.at("zero_pass_auroc").get<double>(), *ZeroPassAuroc(all));
  EXPECT_NEAR(s.at("zero_pass_auroc").get<double>(), 0.75, 1e-12);
  EXPECT_DOUBLE_EQ(s.at("mean_observed_pass_rate").get<double>(), Summarize(all).mean_observed_pass_rate);
}

TEST(BuildReport, LengthBaselineRanksLongerPromptsAsHarder) {
  // Zero-success groups are the 30- and 12-token prompts; the others have 20 and 10 tokens.
  std::vector<ReportRow> rows = {WithOutcome(0.5, 0, 8, true), WithOutcome(0.5, 3, 8, true),
                                 WithOutcome(0.5, 0, 8, true), WithOutcome(0.5, 8, 8, true)};
  const int32_t tokens[] = {30, 20, 12, 10};
  for (size_t i = 0; i < rows.size(); ++i) rows[i].token_count = tokens[i];
  const json h = BuildReport(rows, {}).at("outcome").at("held_out");
  // Pairs (positive, negative): 30 > 20, 30 > 10, 12 < 20, 12 > 10: three of four.
  EXPECT_NEAR(h.at("length_baseline_auroc").get<double>(), 0.75, 1e-12);
  EXPECT_NEAR(h.at("zero_pass_auroc").get<double>(), 0.5, 1e-12);  // equal predictions: all ties
  rows[0].token_count.reset();  // one row without a length: no baseline rather than a partial one
  EXPECT_TRUE(BuildReport(rows, {}).at("outcome").at("held_out").at("length_baseline_auroc").is_null());
}

TEST(BuildReport, UndefinedNumbersAreNull) {
  // Every group has a success: AUROC has one class.
  const json one_class = BuildReport({WithOutcome(0.3, 1, 4, true), WithOutcome(0.6, 3, 4, true)}, {});
  EXPECT_TRUE(one_class.at("outcome").at("held_out").at("zero_pass_auroc").is_null());
  EXPECT_TRUE(one_class.at("outcome").at("held_out").at("mean_log_loss").is_number());

  // Outcomes, none held out: the held-out section exists but has nothing to measure.
  const json none_held = BuildReport({WithOutcome(0.3, 0, 4, false), WithOutcome(0.6, 3, 4, false)}, {});
  const json& h = none_held.at("outcome").at("held_out");
  EXPECT_EQ(h.at("groups"), 0);
  for (const char* key :
       {"zero_pass_auroc", "expected_calibration_error", "mean_log_loss", "mean_predicted_pass_rate"}) {
    EXPECT_TRUE(h.at(key).is_null()) << key;
  }
  EXPECT_TRUE(h.at("calibration").empty());
  EXPECT_DOUBLE_EQ(none_held.at("outcome").at("in_sample").at("zero_pass_auroc").get<double>(), 1.0);
  EXPECT_EQ(none_held.dump().find("NaN"), std::string::npos);
}

TEST(BuildReport, CopiesTheContext) {
  ReportContext context{"sparsegate filter: a.jsonl", "models/m", "2024-05-01T12:00:00Z", 0, {{"drop_below", 0.05}}};
  const json report = BuildReport({}, context);
  EXPECT_EQ(report.at("context").at("title"), "sparsegate filter: a.jsonl");
  EXPECT_EQ(report.at("context").at("model"), "models/m");
  EXPECT_EQ(report.at("context").at("generated_at"), "2024-05-01T12:00:00Z");
  EXPECT_EQ(report.at("context").at("settings").at("drop_below"), 0.05);
}

TEST(ReportRowFromOutput, ReadsAFullRow) {
  const json row = json::parse(R"({"question": "2+2?", "sparsegate": {"line": 12, "decision": "guide",
      "predicted_pass_rate": 0.12, "prediction_source": "supervised", "hint_level": 1, "reason": "hard",
      "token_count": 17, "features": {"a": 0.4}, "outcome": {"successes": 3, "trials": 8, "holdout": true}}})");
  const absl::StatusOr<ReportRow> r = ReportRowFromOutput(row);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->decision, "guide");
  EXPECT_DOUBLE_EQ(*r->predicted_pass_rate, 0.12);
  EXPECT_EQ(r->prediction_source, "supervised");
  EXPECT_EQ(*r->successes, 3);
  EXPECT_EQ(*r->trials, 8);
  EXPECT_TRUE(r->holdout);
  EXPECT_EQ(*r->token_count, 17);

  const absl::StatusOr<ReportRow> bare =
      ReportRowFromOutput(json::parse(R"({"sparsegate": {"decision": "keep", "predicted_pass_rate": null}})"));
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_FALSE(bare->predicted_pass_rate.has_value());
  EXPECT_FALSE(bare->successes.has_value());
  EXPECT_FALSE(bare->holdout);
  EXPECT_FALSE(bare->token_count.has_value());
}

void ExpectErrorNaming(const char* row, const std::string& key) {
  const absl::StatusOr<ReportRow> r = ReportRowFromOutput(json::parse(row));
  ASSERT_FALSE(r.ok()) << row;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(r.status().message()).find("\"" + key + "\""), std::string::npos) << r.status();
}

TEST(ReportRowFromOutput, ErrorsNameTheKey) {
  ExpectErrorNaming(R"({"decision": "keep"})", "sparsegate");
  ExpectErrorNaming(R"({"sparsegate": []})", "sparsegate");
  ExpectErrorNaming(R"({"sparsegate": {"predicted_pass_rate": 0.1}})", "sparsegate.decision");
  ExpectErrorNaming(R"({"sparsegate": {"decision": "maybe", "predicted_pass_rate": 0.1}})", "sparsegate.decision");
  ExpectErrorNaming(R"({"sparsegate": {"decision": "keep", "predicted_pass_rate": "0.1"}})",
                    "sparsegate.predicted_pass_rate");
  ExpectErrorNaming(R"({"sparsegate": {"decision": "keep", "predicted_pass_rate": 1.5}})",
                    "sparsegate.predicted_pass_rate");
  ExpectErrorNaming(R"({"sparsegate": {"decision": "keep"}})", "sparsegate.predicted_pass_rate");
  ExpectErrorNaming(R"({"sparsegate": {"decision": "keep", "predicted_pass_rate": 0.1, "outcome": {"successes": 1}}})",
                    "sparsegate.outcome.trials");
  ExpectErrorNaming(
      R"({"sparsegate": {"decision": "keep", "predicted_pass_rate": 0.1, "outcome": {"successes": 1.5, "trials": 4}}})",
      "sparsegate.outcome.successes");
  ExpectErrorNaming(
      R"({"sparsegate": {"decision": "keep", "predicted_pass_rate": 0.1, "outcome": {"successes": 5, "trials": 4}}})",
      "sparsegate.outcome.successes");
}

TEST(RenderReportHtml, OneSvgPerChart) {
  const std::string without = RenderReportHtml(BuildReport(DecisionRows(), {}));
  EXPECT_EQ(Count(without, "<svg"), 2u);  // decisions, histograms
  EXPECT_EQ(Count(without, "</svg>"), 2u);
  EXPECT_EQ(without.find("calibration of predicted"), std::string::npos);
  const std::string with = RenderReportHtml(BuildReport(OutcomeRows(), {}));
  EXPECT_EQ(Count(with, "<svg"), 3u);  // and calibration
  EXPECT_NE(with.find("aria-label=\"calibration of predicted pass rates\""), std::string::npos);
  EXPECT_EQ(with.find("<script"), std::string::npos);
}

// The honesty numbers: intervals around the held-out AUROC and its baselines, the controls
// baseline from the training rows, and how many rows of each decision never pass.
TEST(BuildReport, IntervalsBaselinesAndRowsThatNeverPass) {
  std::vector<ReportRow> rows;
  // Two levels; the prediction ranks within levels at random, the level alone separates them.
  for (int i = 0; i < 200; ++i) {
    const bool hard = i % 2 == 0;
    ReportRow r = WithOutcome(0.2 + 0.6 * ((i * 37) % 100) / 100.0, hard ? 0 : 5, 8, i % 4 < 2);
    r.decision = i % 3 == 0 ? "guide" : "keep";
    r.controls = hard ? "hard" : "easy";
    r.token_count = 10 + (i * 7) % 13;
    rows.push_back(r);
  }
  ReportContext context;
  context.control_fields = {"level"};
  context.bootstrap = 400;
  const json report = BuildReport(rows, context);
  const json& held = report.at("outcome").at("held_out");
  const json& intervals = held.at("intervals");
  for (const char* key : {"zero_pass_auroc", "length_baseline_auroc", "auroc_minus_length", "controls_baseline_auroc",
                          "auroc_minus_controls"}) {
    const json& i = intervals.at(key);
    ASSERT_TRUE(i.at("low").is_number()) << key;
    EXPECT_LE(i.at("low").get<double>(), i.at("value").get<double>()) << key;
    EXPECT_GE(i.at("high").get<double>(), i.at("value").get<double>()) << key;
    EXPECT_EQ(i.at("resamples"), 400) << key;
  }
  EXPECT_DOUBLE_EQ(held.at("controls_baseline_auroc").get<double>(), 1.0);  // the level is the answer
  EXPECT_LT(intervals.at("auroc_minus_controls").at("high").get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(held.at("zero_pass_auroc").get<double>(), intervals.at("zero_pass_auroc").at("value").get<double>());
  const json& never = held.at("never_pass_by_decision");
  int64_t held_rows = 0, held_never = 0;
  for (const ReportRow& r : rows) {
    if (!r.holdout || r.decision != "keep") continue;
    ++held_rows;
    held_never += *r.successes == 0;
  }
  EXPECT_EQ(never.at("keep").at("rows"), held_rows);
  EXPECT_EQ(never.at("keep").at("never_pass"), held_never);
  EXPECT_DOUBLE_EQ(never.at("keep").at("never_pass_share").get<double>(), double(held_never) / held_rows);
  // Without control fields there is no controls baseline.
  const json plain = BuildReport(rows, {});
  EXPECT_TRUE(plain.at("outcome").at("held_out").at("controls_baseline_auroc").is_null());
  EXPECT_FALSE(plain.at("outcome").at("held_out").at("intervals").contains("auroc_minus_controls"));
}

TEST(ReportRowFromOutput, ReadsControlFieldsFromTheUserRow) {
  const json row = {{"level", "mul-3"}, {"digits", 3},
                    {"sparsegate", {{"decision", "keep"}, {"predicted_pass_rate", 0.4}}}};
  auto r = ReportRowFromOutput(row, {"level", "digits", "absent"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->controls, "mul-3 / 3 / (missing)");
}

TEST(SettingsTable, ShowsEachSettingAsARowWithListsOnePerLine) {
  const json settings = {{"features", {"layer-1/last_token/hoyer", "layer-1/mean/gini"}},
                         {"drop_below", 0.02},
                         {"controls", json::array()},
                         {"input", "data <1>.jsonl"},
                         {"prior", {{"direction", "lower_is_harder"}, {"bins", 8}}},
                         {"model", nullptr}};
  const std::string h = html::SettingsTable(settings);
  EXPECT_NE(h.find("<table class=\"settings\">"), std::string::npos);
  EXPECT_NE(h.find("<td>features</td><td>layer-1/last_token/hoyer<br>layer-1/mean/gini</td>"), std::string::npos);
  EXPECT_NE(h.find("<td>drop_below</td><td>0.02</td>"), std::string::npos);
  EXPECT_NE(h.find("<td>controls</td><td>(none)</td>"), std::string::npos);
  EXPECT_NE(h.find("<td>input</td><td>data &lt;1&gt;.jsonl</td>"), std::string::npos);  // unquoted, escaped
  EXPECT_NE(h.find("<td>prior</td><td>bins: 8<br>direction: lower_is_harder</td>"), std::string::npos);
  EXPECT_NE(h.find("<td>model</td><td>&mdash;</td>"), std::string::npos);
  EXPECT_EQ(h.find("[\""), std::string::npos);  // no raw JSON lists
  // The report page draws its settings with it.
  ReportContext context{"t", "m", "now", 0, {{"features", "a"}}};
  EXPECT_NE(RenderReportHtml(BuildReport(DecisionRows(), context)).find("<table class=\"settings\">"),
            std::string::npos);
}

TEST(RenderReportHtml, EscapesUserStrings) {
  ReportContext context{"<script>alert(1)</script>", "m&m \"x\"", "now", 0, {{"<b>", "<i>"}}};
  const std::string html = RenderReportHtml(BuildReport(DecisionRows(), context));
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("m&amp;m &quot;x&quot;"), std::string::npos);
  EXPECT_EQ(html.find("<b>"), std::string::npos);
  EXPECT_EQ(html.find("<i>"), std::string::npos);
}

TEST(RenderReportHtml, ShowsTheJsonNumbers) {
  const json report = BuildReport(OutcomeRows(), {});
  const std::string html = RenderReportHtml(report);
  const std::string held_out_auroc =
      absl::StrFormat("%.3f", report["outcome"]["held_out"]["zero_pass_auroc"].get<double>());
  const std::string in_sample_auroc =
      absl::StrFormat("%.3f", report["outcome"]["in_sample"]["zero_pass_auroc"].get<double>());
  EXPECT_EQ(held_out_auroc, "0.667");
  EXPECT_NE(html.find("<td>" + held_out_auroc + " ["), std::string::npos);
  EXPECT_NE(html.find("<td>" + in_sample_auroc + " ["), std::string::npos);
  EXPECT_NE(html.find("Rows that never pass, per decision"), std::string::npos);
  EXPECT_NE(html.find("They rest on 5 groups (2 with no success)"), std::string::npos);
}

}  // namespace
}  // namespace sparsegate::offline

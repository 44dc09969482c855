#include "apps/offline/pages/report_page.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "apps/offline/pages/html_page.h"
#include "apps/offline/statistics/cluster_bootstrap.h"

namespace sparsegate::offline {
namespace {

using json = nlohmann::json;
using namespace html;  // NOLINT: the page helpers are this file's vocabulary

std::string DecisionColor(const std::string& decision) {
  static const std::map<std::string, std::string> kColors = {
      {"keep", "#2e7d32"}, {"guide", "#1565c0"}, {"drop", "#c62828"}, {"defer", "#8d6e63"}};
  auto it = kColors.find(decision);
  return it == kColors.end() ? "#757575" : it->second;
}

std::string DecisionChart(const json& decisions) {
  double max = 0;
  for (const json& d : decisions) max = std::max(max, Num(Get(d, "rows")));
  const std::vector<double> ticks = CountTicks(max);
  const double n = std::max<double>(1, decisions.size());
  const Plot p{60, 15, 90 * n, 180, 0, n, 0, ticks.back()};
  std::string s = Axes(p, {}, ticks, "decision", "rows");
  for (size_t i = 0; i < decisions.size(); ++i) {
    const json& d = decisions[i];
    const std::string name = Str(Get(d, "decision"));
    s += Bar(p, i + 0.2, i + 0.8, Num(Get(d, "rows")), DecisionColor(Name(Get(d, "decision"))),
             absl::StrCat(name, ": ", Int(Get(d, "rows")), " rows (", Percent(Get(d, "share")), ")"));
    s += Text(p.X(i + 0.5), p.Y(Num(Get(d, "rows"))) - 4, Int(Get(d, "rows")), "text-anchor=\"middle\"");
    s += Text(p.X(i + 0.5), p.top + p.height + 16, name, "text-anchor=\"middle\"");
  }
  return Svg(p.left + p.width + 20, p.top + p.height + 45, s, "rows per decision");
}

// Small multiples, one panel per decision, each on its own count scale: a decision with few rows
// would be invisible on a shared one, and the summary table gives the sizes.
std::string HistogramChart(const json& decisions, const json& edges) {
  std::string s;
  const double panel = 250;
  for (size_t i = 0; i < decisions.size(); ++i) {
    const json& d = decisions[i];
    const json& dist = Get(d, "predicted_pass_rate");
    const json& histogram = Get(dist, "histogram");
    double max = 0;
    for (const json& c : histogram) max = std::max(max, Num(c));
    const std::vector<double> ticks = CountTicks(max);
    const Plot p{panel * i + 55, 30, panel - 75, 150, 0, 1, 0, ticks.back()};
    const std::string decision = Name(Get(d, "decision")), color = DecisionColor(decision);
    s += Text(p.left + p.width / 2, 18, Escape(decision),
              absl::StrFormat("text-anchor=\"middle\" font-weight=\"bold\" fill=\"%s\"", color));
    s += Axes(p, {0, 0.5, 1}, ticks, "predicted pass rate", "rows");
    for (size_t b = 0; b < histogram.size() && b + 1 < edges.size(); ++b) {
      const double low = Num(edges[b]), high = Num(edges[b + 1]), count = Num(histogram[b]);
      if (count == 0) continue;
      s += Bar(p, low + 0.005, high - 0.005, count, color,
               absl::StrFormat("%s, %g to %g: %s rows", Escape(decision), low, high, Int(histogram[b])));
    }
    if (static_cast<int64_t>(Num(Get(dist, "rows"))) == 0) {
      s +=
          Text(p.left + p.width / 2, p.top + p.height / 2, "no predictions", "text-anchor=\"middle\" fill=\"#757575\"");
    }
  }
  return Svg(panel * std::max<size_t>(1, decisions.size()), 225, s, "predicted pass rate per decision");
}

std::string CalibrationChart(const json& outcome) {
  const Plot p{60, 15, 320, 320, 0, 1, 0, 1};
  const std::vector<double> ticks = {0, 0.2, 0.4, 0.6, 0.8, 1};
  std::string s = Axes(p, ticks, ticks, "predicted pass rate (bin mean)", "observed pass rate");
  s += Line(p.X(0), p.Y(0), p.X(1), p.Y(1), "stroke=\"#9e9e9e\" stroke-dasharray=\"5,4\"");
  for (const json& bin : Get(Get(outcome, "in_sample"), "calibration")) {
    const double x = p.X(Num(Get(bin, "mean_predicted"))), y = p.Y(Num(Get(bin, "observed_pass_rate")));
    s += absl::StrFormat(
        "<rect x=\"%.1f\" y=\"%.1f\" width=\"9\" height=\"9\" fill=\"none\" stroke=\"#ef6c00\" stroke-width=\"1.5\">"
        "<title>in-sample: %s groups, predicted %s, observed %s</title></rect>\n",
        x - 4.5, y - 4.5, Int(Get(bin, "groups")), Fixed(Get(bin, "mean_predicted")),
        Fixed(Get(bin, "observed_pass_rate")));
  }
  for (const json& bin : Get(Get(outcome, "held_out"), "calibration")) {
    const double x = p.X(Num(Get(bin, "mean_predicted"))), y = p.Y(Num(Get(bin, "observed_pass_rate")));
    s += Line(x, p.Y(Num(Get(bin, "wilson_low"))), x, p.Y(Num(Get(bin, "wilson_high"))),
              "stroke=\"#0d47a1\" stroke-width=\"1.5\"");
    s += absl::StrFormat(
        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"#0d47a1\">"
        "<title>held-out: %s groups, predicted %s, observed %s (95%% %s to %s)</title></circle>\n",
        x, y, Int(Get(bin, "groups")), Fixed(Get(bin, "mean_predicted")), Fixed(Get(bin, "observed_pass_rate")),
        Fixed(Get(bin, "wilson_low")), Fixed(Get(bin, "wilson_high")));
  }
  const double lx = p.left + p.width + 20;
  s += absl::StrFormat("<circle cx=\"%.1f\" cy=\"30\" r=\"4.5\" fill=\"#0d47a1\"/>\n", lx);
  s += Text(lx + 10, 34, "held-out, 95% Wilson interval");
  s += absl::StrFormat(
      "<rect x=\"%.1f\" y=\"46\" width=\"9\" height=\"9\" fill=\"none\" stroke=\"#ef6c00\" stroke-width=\"1.5\"/>\n",
      lx - 4.5);
  s += Text(lx + 10, 54, "all rows with outcomes (in-sample)");
  s += Line(lx - 6, 70, lx + 6, 70, "stroke=\"#9e9e9e\" stroke-dasharray=\"5,4\"");
  s += Text(lx + 10, 74, "perfect calibration");
  return Svg(lx + 230, p.top + p.height + 45, s, "calibration of predicted pass rates");
}

std::string QualityTableRow(const std::string& label, const json& q) {
  const json& intervals = Get(q, "intervals");
  return absl::StrCat(
      "<tr><td>", label, "</td><td>", Int(Get(q, "groups")), "</td><td>", Int(Get(q, "zero_pass_groups")), "</td><td>",
      IntervalText(Get(intervals, "zero_pass_auroc")), "</td><td>", IntervalText(Get(intervals, "length_baseline_auroc")),
      "</td><td>", IntervalText(Get(intervals, "auroc_minus_length"), true), "</td><td>",
      IntervalText(Get(intervals, "controls_baseline_auroc")), "</td><td>",
      IntervalText(Get(intervals, "auroc_minus_controls"), true), "</td><td>",
      Fixed(Get(q, "expected_calibration_error")), "</td><td>",
      Fixed(Get(q, "mean_log_loss")), "</td><td>", Fixed(Get(q, "mean_predicted_pass_rate")), "</td><td>",
      Fixed(Get(q, "mean_observed_pass_rate")), "</td><td>", Int(Get(q, "without_prediction")), "</td></tr>\n");
}

// Per decision, the rows with an outcome that never passed: the kept ones are wasted rollouts.
std::string NeverPassTable(const json& outcome) {
  std::string h = "<table>\n<tr><th>decision</th><th>held-out rows</th><th>never pass</th><th>all rows with outcomes</th>"
                  "<th>never pass</th></tr>\n";
  const json& held = Get(Get(outcome, "held_out"), "never_pass_by_decision");
  const json& all = Get(Get(outcome, "in_sample"), "never_pass_by_decision");
  if (!all.is_object()) return "";
  for (auto it = all.begin(); it != all.end(); ++it) {
    const json& held_one = Get(held, it.key().c_str());
    absl::StrAppend(&h, "<tr><td>", Escape(it.key()), "</td><td>", Int(Get(held_one, "rows")), "</td><td>",
                    Percent(Get(held_one, "never_pass_share")), "</td><td>", Int(Get(it.value(), "rows")), "</td><td>",
                    Percent(Get(it.value(), "never_pass_share")), "</td></tr>\n");
  }
  return h + "</table>\n";
}

}  // namespace

std::string RenderReportHtml(const json& report) {
  const json& context = Get(report, "context");
  const json& rows = Get(report, "rows");
  const json& decisions = Get(report, "decisions").is_array() ? Get(report, "decisions") : json::array();
  const std::string title = Str(Get(context, "title"));

  std::string h = absl::StrCat("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", title,
                               "</title>\n<style>", kStyle, "</style>\n</head>\n<body>\n<h1>", title, "</h1>\n");
  absl::StrAppend(&h, "<p class=\"meta\">Model: ", Str(Get(context, "model")), "<br>Generated at ",
                  Str(Get(context, "generated_at")), "</p>\n");

  absl::StrAppend(&h, "<h2>Decisions</h2>\n<table>\n<tr><th>decision</th><th>rows</th><th>share</th></tr>\n");
  for (const json& d : decisions) {
    absl::StrAppend(&h, "<tr><td><span class=\"swatch\" style=\"background:", DecisionColor(Name(Get(d, "decision"))),
                    "\"></span>", Str(Get(d, "decision")), "</td><td>", Int(Get(d, "rows")), "</td><td>",
                    Percent(Get(d, "share")), "</td></tr>\n");
  }
  absl::StrAppend(&h, "<tr><th>total</th><th>", Int(Get(rows, "total")), "</th><th></th></tr>\n</table>\n");
  absl::StrAppend(&h, "<p class=\"note\">", Int(Get(rows, "rejected")), " input rows (",
                  Percent(Get(rows, "rejected_share")),
                  ") were rejected (unreadable, missing a field, or over the model's token limit) and are in the "
                  "rejects file, not above.</p>\n");
  if (rows.contains("truncated") && Get(rows, "truncated").get<int64_t>() > 0) {
    absl::StrAppend(&h, "<p class=\"note\">", Int(Get(rows, "truncated")),
                    " rows were over the model's token limit and were scored on their last tokens "
                    "(--truncation left); their rows say \"truncated\": true.</p>\n");
  }
  absl::StrAppend(&h, DecisionChart(decisions));

  absl::StrAppend(&h, "<h2>Predicted pass rate</h2>\n<p class=\"note\">", Int(Get(rows, "without_prediction")),
                  " rows were decided without features and have no prediction; they are left out of the "
                  "histograms and statistics below.</p>\n<table>\n<tr><th>decision</th><th>predicted</th>"
                  "<th>no prediction</th><th>min</th><th>median</th><th>mean</th><th>max</th></tr>\n");
  for (const json& d : decisions) {
    const json& dist = Get(d, "predicted_pass_rate");
    absl::StrAppend(&h, "<tr><td>", Str(Get(d, "decision")), "</td><td>", Int(Get(dist, "rows")), "</td><td>",
                    Int(Get(dist, "without_prediction")), "</td><td>", Fixed(Get(dist, "min")), "</td><td>",
                    Fixed(Get(dist, "median")), "</td><td>", Fixed(Get(dist, "mean")), "</td><td>",
                    Fixed(Get(dist, "max")), "</td></tr>\n");
  }
  absl::StrAppend(&h, "</table>\n", HistogramChart(decisions, Get(report, "bin_edges")));

  const json& outcome = Get(report, "outcome");
  if (outcome.is_object()) {
    const json& held_out = Get(outcome, "held_out");
    absl::StrAppend(&h, "<h2>Predictions against outcomes</h2>\n<p>", Int(Get(outcome, "rows")),
                    " rows have an outcome in the outcomes file. <strong>The held-out numbers are the honest ones"
                    "</strong>: the predictor never trained on those rows. They rest on ",
                    Int(Get(held_out, "groups")), " groups (", Int(Get(held_out, "zero_pass_groups")),
                    " with no success). The in-sample numbers cover all rows with outcomes, including rows the "
                    "predictor learned from, and flatter it.</p>\n");
    if (static_cast<int64_t>(Num(Get(held_out, "groups"))) == 0) {
      absl::StrAppend(&h, "<p><strong>No held-out outcomes:</strong> every number below is in-sample.</p>\n");
    }
    absl::StrAppend(&h,
                    "<table>\n<tr><th>rows</th><th>groups</th><th>zero-pass groups</th><th>AUROC (pass@G = 0)</th>"
                    "<th>AUROC, length alone</th><th>predictor &minus; length</th><th>AUROC, controls alone</th>"
                    "<th>predictor &minus; controls</th>"
                    "<th>ECE</th><th>log loss</th><th>mean predicted</th><th>mean observed</th>"
                    "<th>no prediction (left out)</th></tr>\n",
                    QualityTableRow("held-out", held_out),
                    QualityTableRow("all with outcomes (in-sample)", Get(outcome, "in_sample")), "</table>\n");
    absl::StrAppend(&h,
                    "<p class=\"note\">AUROC: how well 1 &minus; predicted ranks the groups with no success above "
                    "the others (0.5 is chance). AUROC, length alone: the same when longer prompts are simply "
                    "predicted harder; the predictor is worth something only above it. Controls alone: each row predicted by "
                    "the observed pass rate of the training rows with the same values of the fields named by --control. "
                    "Brackets: 95% bootstrap intervals over rows; differences paired. ECE: calibration gap over 10 bins, each group weighing one. "
                    "Log loss: binomial, per trial. Rows with an outcome but no prediction are left out of all of "
                    "these.</p>\n",
                    CalibrationChart(outcome));
    absl::StrAppend(&h, "<h3>Rows that never pass, per decision</h3>\n", NeverPassTable(outcome));
  }

  absl::StrAppend(&h, "<h2>Settings</h2>\n", SettingsTable(Get(context, "settings")), "</body>\n</html>\n");
  return h;
}

}  // namespace sparsegate::offline

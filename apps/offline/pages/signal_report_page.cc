#include "apps/offline/pages/signal_report_page.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "apps/offline/pages/html_page.h"
#include "apps/offline/statistics/cluster_bootstrap.h"

namespace sparsegate::offline {
namespace {

using json = nlohmann::json;
using namespace html;  // NOLINT: the page helpers are this file's vocabulary

// An interval cell; a comparison a model has not (itself against itself) stays empty.
std::string WithInterval(const json& interval, bool is_signed = false) { return IntervalText(interval, is_signed, ""); }

// Overall AUROC per model, a dot at the estimate and a bar over the 95% interval; 0.5 dashed.
std::string ForestPlot(const json& results) {
  double low = 0.5, high = 1.0;
  for (const json& r : results) {
    const json& a = Get(r, "auroc");
    if (Get(a, "low").is_number()) low = std::min(low, Num(Get(a, "low")));
  }
  low = std::floor(low * 10) / 10;
  const double row = 24, label = 150;
  const Plot p{label, 10, 420, row * std::max<size_t>(1, results.size()), low, high, 0, 1};
  std::string s;
  std::vector<double> ticks;
  for (double t = low; t <= high + 1e-9; t += 0.1) ticks.push_back(t);
  for (double t : ticks) {
    s += Line(p.X(t), p.top, p.X(t), p.top + p.height, "stroke=\"#eeeeee\"");
    s += Text(p.X(t), p.top + p.height + 14, absl::StrFormat("%.1f", t), "text-anchor=\"middle\"");
  }
  s += Line(p.X(0.5), p.top, p.X(0.5), p.top + p.height, "stroke=\"#9e9e9e\" stroke-dasharray=\"4,3\"");
  for (size_t i = 0; i < results.size(); ++i) {
    const json& a = Get(results[i], "auroc");
    const double y = p.top + row * (i + 0.5);
    s += Text(label - 8, y + 4, Str(Get(results[i], "model")), "text-anchor=\"end\"");
    if (Get(a, "low").is_number() && Get(a, "high").is_number())
      s += Line(p.X(Num(Get(a, "low"))), y, p.X(Num(Get(a, "high"))), y, "stroke=\"#0d47a1\" stroke-width=\"2\"");
    if (Get(a, "value").is_number()) {
      s += absl::StrFormat("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"#0d47a1\"><title>%s: %s</title></circle>\n",
                           p.X(Num(Get(a, "value"))), y, Str(Get(results[i], "model")), WithInterval(a));
    }
  }
  s += Text(p.X((low + high) / 2), p.top + p.height + 30, "AUROC for never passing, 95% cluster-bootstrap interval",
            "text-anchor=\"middle\"");
  return Svg(label + p.width + 20, p.top + p.height + 40, s, "AUROC per model with intervals");
}

std::string ResultsTable(const json& family, bool has_controls) {
  std::string h = "<table>\n<tr><th>model</th><th>AUROC (never passes)</th><th>vs length</th>";
  if (has_controls) h += "<th>vs controls</th>";
  h += "<th>Spearman with pass rate</th><th>vs length</th>";
  if (has_controls) h += "<th>vs controls</th>";
  h += "</tr>\n";
  for (const json& r : Get(family, "results")) {
    absl::StrAppend(&h, "<tr><td>", Str(Get(r, "model")), "</td><td>", WithInterval(Get(r, "auroc")), "</td><td>",
                    WithInterval(Get(r, "auroc_vs_length"), true), "</td>");
    if (has_controls) absl::StrAppend(&h, "<td>", WithInterval(Get(r, "auroc_vs_controls"), true), "</td>");
    absl::StrAppend(&h, "<td>", WithInterval(Get(r, "spearman")), "</td><td>",
                    WithInterval(Get(r, "spearman_vs_length"), true), "</td>");
    if (has_controls) absl::StrAppend(&h, "<td>", WithInterval(Get(r, "spearman_vs_controls"), true), "</td>");
    h += "</tr>\n";
  }
  return h + "</table>\n";
}

std::string StrataTable(const json& family) {
  const json& results = Get(family, "results");
  std::string h = "<table>\n<tr><th>stratum</th><th>rows</th><th>never pass</th><th>used</th>";
  for (const json& r : results) absl::StrAppend(&h, "<th>", Str(Get(r, "model")), "</th>");
  h += "</tr>\n";
  const json& strata = Get(family, "strata");
  for (size_t s = 0; s < strata.size(); ++s) {
    const bool used = Get(strata[s], "eligible").is_boolean() && Get(strata[s], "eligible").get<bool>();
    absl::StrAppend(&h, "<tr", used ? "" : " class=\"small\"", "><td>", Str(Get(strata[s], "value")), "</td><td>",
                    Int(Get(strata[s], "rows")), "</td><td>", Int(Get(strata[s], "zero_pass")), "</td><td>",
                    used ? "yes" : "too few", "</td>");
    for (const json& r : results) {
      const json& per = Get(r, "per_stratum_auroc");
      absl::StrAppend(&h, "<td>", per.is_array() && s < per.size() ? Fixed(per[s]) : "", "</td>");
    }
    h += "</tr>\n";
  }
  return h + "</table>\n";
}

}  // namespace

std::string RenderSignalHtml(const json& e) {
  const json& context = Get(e, "context");
  const json& rows = Get(e, "rows");
  const json& input = Get(e, "input_rows");
  const json& families = Get(e, "families");
  const bool has_controls = Get(Get(e, "settings"), "controls").is_array() && !Get(Get(e, "settings"), "controls").empty();
  const std::string title = Str(Get(context, "title"));
  std::string h = absl::StrCat("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", title,
                               "</title>\n<style>", kStyle,
                               ".ci { color: #757575; } tr.small td { color: #9e9e9e; } .headline { font-size: 1.1em; }"
                               "</style>\n</head>\n<body>\n<h1>",
                               title, "</h1>\n");
  absl::StrAppend(&h, "<p class=\"meta\">Model: ", Str(Get(context, "model")), "<br>Generated at ",
                  Str(Get(context, "generated_at")), "</p>\n");
  absl::StrAppend(&h, "<p class=\"headline\"><strong>", Str(Get(Get(e, "headline"), "sentence")), "</strong></p>\n");
  absl::StrAppend(&h, "<p>", Int(Get(rows, "evaluated")), " rows evaluated in ", Int(Get(rows, "groups")), " groups; ",
                  Int(Get(rows, "zero_pass")), " never pass. Of ", Int(Get(input, "total")), " input rows, ",
                  Int(Get(input, "rejected")), " were rejected (unreadable, a field missing, or unscorable: see "
                  "rejects.jsonl) and ", Int(Get(input, "without_outcome")),
                  " had no outcome. Every prediction is out-of-fold: ", Int(Get(Get(e, "settings"), "folds")),
                  "-fold cross-fitting by group; intervals are 95% cluster-bootstrap percentiles over groups (",
                  Int(Get(Get(e, "settings"), "bootstrap")), " resamples), differences paired.</p>\n");

  if (families.is_array() && !families.empty()) {
    const json& overall = families[0];
    absl::StrAppend(&h, "<h2>All rows</h2>\n", ForestPlot(Get(overall, "results")), ResultsTable(overall, has_controls));
    absl::StrAppend(&h, "<table>\n<tr><th>model</th><th>inputs</th></tr>\n");
    for (const json& m : Get(e, "models"))
      absl::StrAppend(&h, "<tr><td>", Str(Get(m, "name")), "</td><td style=\"text-align:left\">", Str(Get(m, "inputs")),
                      "</td></tr>\n");
    absl::StrAppend(&h, "</table>\n");
    for (size_t f = 1; f < families.size(); ++f) {
      const json& family = families[f];
      absl::StrAppend(&h, "<h2>Within ", Str(Get(family, "family")), "</h2>\n<p class=\"note\">Pairs are compared only "
                      "inside a stratum, so a score that only separates strata earns nothing here. ",
                      Int(Get(family, "eligible_strata")), " strata (", Int(Get(family, "eligible_rows")),
                      " rows) are used; ", Int(Get(family, "too_small")),
                      " have too few rows or too few of one class and are listed in grey.</p>\n",
                      ResultsTable(family, has_controls),
                      "<details><summary>per stratum (AUROC for never passing)</summary>\n", StrataTable(family),
                      "</details>\n");
    }
  }
  absl::StrAppend(&h, "<h2>Settings</h2>\n", SettingsTable(Get(e, "settings")), "</body>\n</html>\n");
  return h;
}

}  // namespace sparsegate::offline

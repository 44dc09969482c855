// The report of a `sparsegate filter` run, built from its output rows after the run: how many rows
// each decision got, how the predicted pass rates spread within each decision, and, when the user
// gave outcomes, how well the predictions were calibrated and ranked. BuildReport gives the numbers
// as one JSON object; RenderReportHtml (report_page.h) draws the page from that JSON alone, so the
// page and the JSON cannot disagree.
//
// Held-out against in-sample: an outcome marked holdout was kept out of the predictor's training,
// so the numbers on those rows are the honest ones. The numbers on all rows with outcomes include
// rows the predictor learned from and flatter it; the report computes both and labels them.
//
// BuildReport is pure: the caller supplies the time and everything else in ReportContext.
// Undefined numbers (a share of no rows, AUROC with one class, a median of nothing) are JSON null,
// never NaN.
//
// The JSON layout is documented in docs/offline.md ("report.json").
#ifndef SPARSEGATE_APPS_OFFLINE_FILTER_REPORT_H_
#define SPARSEGATE_APPS_OFFLINE_FILTER_REPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace sparsegate::offline {

// One output row as the report sees it.
struct ReportRow {
  std::string decision;                       // "keep", "guide", "drop" or "defer"
  std::optional<double> predicted_pass_rate;  // absent when the row was decided without features
  std::string prediction_source;              // "prior", "supervised" or "" (none)
  std::optional<int32_t> successes;           // from the user's outcomes file, when it has this row
  std::optional<int32_t> trials;              // >= 1 when present; a row without both has no outcome
  bool holdout = false;                       // the outcome was held out from the predictor's training
  std::optional<int32_t> token_count;         // the prompt's length, for the length-only baseline
  bool truncated = false;                     // only the prompt's last token_count tokens were scored
  std::string controls;                       // the row's control values joined, "" when none are named
};

// Reads a ReportRow from the "sparsegate" object of one whole output row (user fields plus
// "sparsegate"). Required: "decision" (one of the four names) and "predicted_pass_rate" (a number
// in [0, 1], or null). Optional: "prediction_source" (string or null), "truncated" (boolean) and
// "outcome" (an object with
// integer "successes" and "trials", 0 <= successes <= trials, trials >= 1, and an optional boolean
// "holdout" that defaults to false, the side that never overstates quality). Other keys are
// ignored. InvalidArgument, naming the key, on anything missing or ill-typed. `control_fields`
// are read from the row's own (user) fields into `controls`; a missing one reads as "(missing)".
absl::StatusOr<ReportRow> ReportRowFromOutput(const nlohmann::json& row,
                                              const std::vector<std::string>& control_fields = {});

struct ReportContext {
  std::string title;          // e.g. "sparsegate filter: data/problems.jsonl"
  std::string model;          // model directory or server addresses
  std::string generated_at;   // ISO time string, given by the caller (keeps the function pure)
  int64_t rejected_rows = 0;  // rows that went to the rejects file (bad JSON, missing field...)
  nlohmann::json settings = nlohmann::json::object();  // thresholds etc., copied into the report
  std::vector<std::string> control_fields;  // named: the controls baseline is computed
  int bootstrap = 1000;                     // resamples of the intervals (0: none)
  uint64_t seed = 0;
};

// Rows not read by ReportRowFromOutput are taken as they are, except that a non-finite prediction
// counts as none, predictions are clamped to [0, 1], an outcome without trials >= 1 counts as none,
// and successes are clamped to [0, trials].
nlohmann::json BuildReport(const std::vector<ReportRow>& rows, const ReportContext& context);


}  // namespace sparsegate::offline

#endif  // SPARSEGATE_APPS_OFFLINE_FILTER_REPORT_H_

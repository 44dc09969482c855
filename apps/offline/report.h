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
// Report JSON layout (decisions in the fixed order keep, guide, drop, defer; then any other name):
//   context: {title, model, generated_at, settings}
//   rows: {total, rejected, rejected_share (of total + rejected), truncated (scored on their last
//          tokens, --truncation left), with_prediction, without_prediction, with_outcome,
//          prediction_sources: {source: rows with a prediction}}  ("" is "none")
//   bin_edges: [0, 0.1, ..., 1]  the 10 equal-width bins of every histogram and calibration curve
//   decisions: [{decision, rows, share (of total),
//                predicted_pass_rate: {rows, without_prediction, histogram: [10 counts],
//                                      min, median, mean, max}}]
//   outcome (only when some row has an outcome): {rows, held_out: Quality, in_sample: Quality}
//     Quality: {rows (with an outcome), without_prediction (left out of everything below), groups,
//               zero_pass_groups, zero_pass_auroc, expected_calibration_error, mean_log_loss,
//               mean_predicted_pass_rate, mean_observed_pass_rate (per-group means),
//               length_baseline_auroc (the same AUROC when longer prompts are simply predicted
//               harder: what the predictor must beat, since length is confounded with difficulty),
//               controls_baseline_auroc (when control fields are named: each row predicted by the
//               observed pass rate of the training rows, those not held out, with the same control
//               values; the overall rate for values they lack),
//               intervals: {zero_pass_auroc, length_baseline_auroc, auroc_minus_length,
//                           controls_baseline_auroc, auroc_minus_controls}: 95% bootstrap intervals
//                           over rows (cluster_bootstrap.h; {value, low, high, resamples}),
//               never_pass_by_decision: {decision: {rows, never_pass, never_pass_share}} over the
//                           rows with an outcome, predicted or not (e.g. kept rows that never pass),
//               calibration: [{bin, low, high, groups, successes, trials, mean_predicted,
//                              observed_pass_rate (successes / trials), wilson_low, wilson_high}]}
//     held_out holds the holdout rows; in_sample holds all rows with outcomes, held-out included.
//     calibration lists non-empty bins only. The metrics are those of predictor/quality.h.
#ifndef SPARSEGATE_APPS_OFFLINE_REPORT_H_
#define SPARSEGATE_APPS_OFFLINE_REPORT_H_

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

// The current UTC time as ISO 8601 ("2026-12-02T10:30:00Z"), for ReportContext::generated_at.
std::string IsoTimeNow();


}  // namespace sparsegate::offline

#endif  // SPARSEGATE_APPS_OFFLINE_REPORT_H_

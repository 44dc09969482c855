// `sparsegate evaluate`: how much the activation signal says about this model's failures, on the
// user's own data. Reads a JSONL dataset whose rows carry an outcome (successes out of trials:
// in the row, or in an outcomes file by id), a group (near-duplicates share one, default: the id)
// and the control fields the user names; scores every prompt with a FeatureSource; and measures
// every model of signal_evaluation.h with cross-fitting by group and cluster-bootstrap intervals.
//
// Writes into the output directory: evaluation.json (the numbers, with "context" and
// "input_rows"), evaluation.html (signal_report_page.h) and rejects.jsonl. Every input row is
// accounted for: evaluated, rejected (unreadable, a field missing or ill-typed, a repeated id,
// or a prompt the model refused; each also on stderr as FILE:LINE), or counted as without an
// outcome. Not resumable: an evaluation is one pass of scoring, minutes on a CPU for thousands of
// rows; for more, score against several service replicas.
#ifndef SPARSEGATE_APPS_OFFLINE_EVALUATE_EVALUATE_JOB_H_
#define SPARSEGATE_APPS_OFFLINE_EVALUATE_EVALUATE_JOB_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "apps/offline/evaluate/signal_evaluation.h"
#include "apps/offline/sources/feature_source.h"
#include "nlohmann/json.hpp"

namespace sparsegate::offline {

struct EvaluateFields {
  std::string id = "id";          // "" : line numbers
  std::string prompt = "prompt";
  std::string group;              // "" : each row its own group
  std::string successes = "successes";
  std::string trials = "trials";
};

// A control field and how to read it. Auto: numeric when every row holds a number there, else
// categorical (numbers then read as their text).
struct ControlSpec {
  enum class Kind { kAuto, kNumeric, kCategorical };
  std::string field;
  Kind kind = Kind::kAuto;
};

// "op", "digits:numeric", "level:categorical". InvalidArgument naming the text otherwise.
absl::StatusOr<ControlSpec> ParseControlSpec(const std::string& text);

struct EvaluateOptions {
  std::string input_path;
  std::string output_dir;
  std::string outcomes_path;  // "" : outcomes from the rows' own fields
  EvaluateFields fields;
  std::vector<ControlSpec> controls;
  SignalOptions signal;
  int batch_rows = 256;
};

struct EvaluateSummary {
  nlohmann::json evaluation;
  int64_t input_rows = 0;
  int64_t rejected = 0;
  int64_t without_outcome = 0;
  std::string json_path;
  std::string html_path;
};

// Errors: the input or outcomes file unreadable, a bad outcomes file, the feature source failing,
// too few rows with outcomes to cross-fit, or the output directory not writable.
absl::StatusOr<EvaluateSummary> RunEvaluate(const EvaluateOptions& options, FeatureSource& source);

}  // namespace sparsegate::offline

#endif  // SPARSEGATE_APPS_OFFLINE_EVALUATE_EVALUATE_JOB_H_

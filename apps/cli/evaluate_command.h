// `sparsegate evaluate`: on a JSONL dataset with outcomes, measure what the activation features
// predict about this model's failures beyond length and the control fields the user names, with
// grouped cross-fitting and cluster-bootstrap intervals (apps/offline/evaluate/evaluate_job.h). Prints the
// headline and the overall table; writes evaluation.json and evaluation.html. Exits 1 when rows
// were rejected, 2 on a usage or set-up error, 3 when the evaluation failed.
#ifndef SPARSEGATE_APPS_CLI_EVALUATE_COMMAND_H_
#define SPARSEGATE_APPS_CLI_EVALUATE_COMMAND_H_

#include <CLI/App.hpp>

namespace sparsegate::cli {
void AddEvaluateCommand(CLI::App& app);
}

#endif  // SPARSEGATE_APPS_CLI_EVALUATE_COMMAND_H_

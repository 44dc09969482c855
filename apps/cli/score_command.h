// `sparsegate score`: features for every row of a JSONL file, in process (no
// server). Each input row yields exactly one output row, in input order:
// the input object plus its features, or {"line", "error"} naming the
// problem (also reported on stderr as FILE:LINE). Exit status 1 when any
// row failed.
#ifndef SPARSEGATE_APPS_CLI_SCORE_COMMAND_H_
#define SPARSEGATE_APPS_CLI_SCORE_COMMAND_H_

#include <CLI/App.hpp>

namespace sparsegate::cli {
void AddScoreCommand(CLI::App& app);
}

#endif  // SPARSEGATE_APPS_CLI_SCORE_COMMAND_H_

// `sparsegate filter`: sort a JSONL dataset into kept, guided (with the hinted prompt) and dropped
// rows before training, with a report. Features come from a model in process (by default the
// embedded model) or from difficulty-service replicas (--server). The job itself, its files and
// its resume rules are apps/offline/filter/filter_job.h. Prints a summary table on stdout;
// exits 1 when rows were rejected, 2 on a usage or set-up error, 3 when the job failed midway
// (it can be resumed by running the same command again).
#ifndef SPARSEGATE_APPS_CLI_FILTER_COMMAND_H_
#define SPARSEGATE_APPS_CLI_FILTER_COMMAND_H_

#include <CLI/App.hpp>

namespace sparsegate::cli {
void AddFilterCommand(CLI::App& app);
}

#endif  // SPARSEGATE_APPS_CLI_FILTER_COMMAND_H_

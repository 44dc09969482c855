// `sparsegate generate`: continuations of every prompt of a JSONL file, in process, greedy or
// sampled, with the model's own generation code (KV cache, one prefill per prompt for all samples).
// It is how the embedded model's card measures greedy accuracy and pass@k.
//
// Each input row yields one output row, in input order: the input object plus "completions", a list
// of `--samples` strings (special tokens removed). Sampling is seeded per row (seed + line number),
// so any row's samples can be reproduced alone. A row that cannot be read gives {"line", "error"}
// and a FILE:LINE message on stderr; the exit status is then 1.
#ifndef SPARSEGATE_APPS_CLI_GENERATE_COMMAND_H_
#define SPARSEGATE_APPS_CLI_GENERATE_COMMAND_H_

#include <CLI/App.hpp>

namespace sparsegate::cli {
void AddGenerateCommand(CLI::App& app);
}

#endif  // SPARSEGATE_APPS_CLI_GENERATE_COMMAND_H_

// `sparsegate tokenize`: token ids for text on stdin, one JSON array of ids per input line on
// stdout, in input order. --tokenizer takes a tokenizer.json or a model directory holding one.
// With --jsonl each input line is a JSON string (so a text can hold "\r\n" or end in spaces);
// without it each raw line is one text, its trailing "\n" removed. --add-special-tokens applies the
// tokenizer's post-processor (e.g. Llama 3's BOS). The first error (unreadable tokenizer, bad JSON
// or invalid UTF-8 on line N) is reported on stderr with the line number and exits with status 1.
#ifndef SPARSEGATE_APPS_CLI_TOKENIZE_COMMAND_H_
#define SPARSEGATE_APPS_CLI_TOKENIZE_COMMAND_H_

#include <CLI/App.hpp>

namespace sparsegate::cli {
void AddTokenizeCommand(CLI::App& app);
}

#endif  // SPARSEGATE_APPS_CLI_TOKENIZE_COMMAND_H_

// sparsegate: difficulty features for RL fine-tuning prompts.
//   sparsegate serve     gRPC difficulty service
//   sparsegate score     features for a JSONL file, in process
//   sparsegate generate  continuations of a JSONL file's prompts, in process
//   sparsegate filter    kept / guided / dropped rows of a JSONL dataset, with a report
//   sparsegate tokenize  token ids for lines on stdin
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>

#include "difficulty_service/cli/filter_command.h"
#include "difficulty_service/cli/generate_command.h"
#include "difficulty_service/cli/score_command.h"
#include "difficulty_service/cli/serve_command.h"
#include "difficulty_service/cli/tokenize_command.h"

int main(int argc, char** argv) {
  // Logs go to stderr so that stdout carries only results (JSONL, ids).
  spdlog::set_default_logger(spdlog::stderr_color_mt("sparsegate"));
  CLI::App app{"sparsegate: activation-sparsity difficulty features for RL prompts"};
  app.require_subcommand(1);
  app.set_version_flag("--version", SPARSEGATE_VERSION);
  sparsegate::cli::AddServeCommand(app);
  sparsegate::cli::AddScoreCommand(app);
  sparsegate::cli::AddGenerateCommand(app);
  sparsegate::cli::AddFilterCommand(app);
  sparsegate::cli::AddTokenizeCommand(app);
  CLI11_PARSE(app, argc, argv);
  return 0;
}

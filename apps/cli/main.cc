// sparsegate: difficulty features for RL fine-tuning prompts.
//   sparsegate serve     gRPC difficulty service
//   sparsegate score     features for a JSONL file, in process
//   sparsegate generate  continuations of a JSONL file's prompts, in process
//   sparsegate filter    kept / guided / dropped rows of a JSONL dataset, with a report
//   sparsegate evaluate  what the features predict about failures beyond length and controls, with intervals
//   sparsegate tokenize  token ids for lines on stdin
//   sparsegate metrics   the sparsity metrics this build computes, one name per line, in order
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "apps/cli/evaluate_command.h"
#include "apps/cli/filter_command.h"
#include "apps/cli/generate_command.h"
#include "apps/cli/score_command.h"
#include "apps/cli/serve_command.h"
#include "apps/cli/tokenize_command.h"
#include "difficulty_service/core/engine/runtime.h"
#include "difficulty_service/core/features/metric_list.h"

int main(int argc, char** argv) {
  sparsegate::PrepareCpuRuntime();  // before any thread starts (engine/runtime.h)
  // Logs go to stderr so that stdout carries only results (JSONL, ids).
  spdlog::set_default_logger(spdlog::stderr_color_mt("sparsegate"));
  CLI::App app{"sparsegate: activation-sparsity difficulty features for RL prompts"};
  app.require_subcommand(1);
  app.set_version_flag("--version", SPARSEGATE_VERSION);
  sparsegate::cli::AddServeCommand(app);
  sparsegate::cli::AddScoreCommand(app);
  sparsegate::cli::AddGenerateCommand(app);
  sparsegate::cli::AddFilterCommand(app);
  sparsegate::cli::AddEvaluateCommand(app);
  sparsegate::cli::AddTokenizeCommand(app);
  // Scripts read the metric names from here rather than keeping a copy of metric_list.h.
  app.add_subcommand("metrics", "Print the sparsity metric names, one per line, in output order")->callback([] {
    for (const char* name : sparsegate::MetricNames()) std::cout << name << "\n";
  });
  CLI11_PARSE(app, argc, argv);
  return 0;
}

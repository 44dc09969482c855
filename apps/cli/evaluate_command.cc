#include "apps/cli/evaluate_command.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <iostream>

#include "absl/strings/str_format.h"
#include "apps/cli/embedded_model.h"
#include "apps/cli/source_flags.h"
#include "apps/offline/evaluate/evaluate_job.h"
#include "apps/offline/statistics/cluster_bootstrap.h"

namespace sparsegate::cli {
namespace {

struct EvaluateFlags {
  offline::EvaluateOptions job;
  // Mean pooling first: the probe reads the first (layer, pooling)'s vector, and a mean-pooled
  // state summarises the whole prompt.
  SourceFlags source{FindEmbeddedModel(), {}, {-1}, {"mean", "last_token"}, true};
  std::vector<std::string> controls;
  bool no_probe = false;
  bool no_predictor = false;
  plugin::PredictorConfig predictor;
};

void PrintSummary(const offline::EvaluateSummary& s) {
  const nlohmann::json& e = s.evaluation;
  const bool controls = !e["settings"]["controls"].empty();
  std::cout << e["headline"]["sentence"].get<std::string>() << "\n\n";
  std::cout << absl::StrFormat("%-20s %-24s %-27s %-27s %s\n", "model", "AUROC (never passes)", "vs length",
                               controls ? "vs controls" : "", "Spearman");
  for (const auto& r : e["families"][0]["results"]) {
    std::cout << absl::StrFormat("%-20s %-24s %-27s %-27s %s\n", r["model"].get<std::string>(), offline::IntervalText(r["auroc"]),
                                 r.contains("auroc_vs_length") ? offline::IntervalText(r["auroc_vs_length"], true) : "",
                                 r.contains("auroc_vs_controls") ? offline::IntervalText(r["auroc_vs_controls"], true) : "",
                                 offline::IntervalText(r["spearman"]));
  }
  std::cout << absl::StrFormat("\n%d rows evaluated, %d rejected, %d without an outcome\n",
                               e["rows"]["evaluated"].get<int64_t>(), s.rejected, s.without_outcome);
  std::cout << "report: " << s.html_path << " (numbers in " << s.json_path << ")\n";
}

int RunEvaluateCommand(EvaluateFlags flags) {
  for (const std::string& c : flags.controls) {
    auto spec = offline::ParseControlSpec(c);
    if (!spec.ok()) {
      spdlog::error("{}", std::string(spec.status().message()));
      return 2;
    }
    flags.job.controls.push_back(*spec);
  }
  flags.source.return_hidden = !flags.no_probe;
  if (!flags.no_predictor) flags.job.signal.predictor = flags.predictor;
  if (absl::Status s = plugin::ValidatePredictorConfig(flags.predictor); !s.ok()) {
    spdlog::error("{}", std::string(s.message()));
    return 2;
  }
  auto source = MakeSource(flags.source);
  if (!source.ok()) {
    spdlog::error("{}", std::string(source.status().message()));
    return 2;
  }
  spdlog::info("evaluating {} with {} into {}", flags.job.input_path, (*source)->Describe(), flags.job.output_dir);
  auto summary = offline::RunEvaluate(flags.job, **source);
  if (!summary.ok()) return FailedJobExitCode(summary.status());
  PrintSummary(*summary);
  return summary->rejected > 0 ? 1 : 0;
}

}  // namespace

void AddEvaluateCommand(CLI::App& app) {
  auto flags = std::make_shared<EvaluateFlags>();
  offline::EvaluateOptions& job = flags->job;
  offline::SignalOptions& signal = job.signal;
  CLI::App* cmd = app.add_subcommand(
      "evaluate", "Measure what the features predict about failures beyond length and named controls, with intervals");
  cmd->add_option("--input,-i", job.input_path, "JSONL dataset with outcomes")->required()->check(CLI::ExistingFile);
  cmd->add_option("--output-dir,-o", job.output_dir, "where evaluation.json, evaluation.html and rejects.jsonl go")
      ->required();
  AddSourceOptions(cmd, &flags->source);
  cmd->add_option("--id-field", job.fields.id, "row field with a unique id ('' : use line numbers)")->capture_default_str();
  cmd->add_option("--prompt-field", job.fields.prompt, "row field with the prompt text")->capture_default_str();
  cmd->add_option("--group-field", job.fields.group,
                  "row field naming the row's group: rows of a group are never split between training and test, and "
                  "are resampled together ('' : each row its own group)")
      ->capture_default_str();
  cmd->add_option("--successes-field", job.fields.successes, "row field with the successes")->capture_default_str();
  cmd->add_option("--trials-field", job.fields.trials, "row field with the trials (rollouts)")->capture_default_str();
  cmd->add_option("--outcomes", job.outcomes_path, "JSONL of {id, successes, trials}, instead of the rows' own fields")
      ->check(CLI::ExistingFile);
  cmd->add_option("--control", flags->controls,
                  "control field, optionally FIELD:numeric or FIELD:categorical (default: numeric when every value is "
                  "a number); repeat or separate with commas")
      ->delimiter(',');
  cmd->add_option("--folds", signal.folds, "cross-fitting folds (by group)")->capture_default_str()->check(CLI::Range(2, 100));
  cmd->add_option("--bootstrap", signal.bootstrap, "cluster-bootstrap resamples (0: no intervals)")
      ->capture_default_str()->check(CLI::Range(0, 100000));
  cmd->add_option("--seed", signal.seed, "seed of the folds and the bootstrap")->capture_default_str();
  cmd->add_option("--min-stratum-rows", signal.min_stratum_rows, "strata with fewer rows are listed as too small")
      ->capture_default_str()->check(CLI::Range(2, 1 << 30));
  cmd->add_option("--min-stratum-class", signal.min_stratum_class,
                  "strata with fewer rows of either class (never passes / passes) are listed as too small")
      ->capture_default_str()->check(CLI::Range(1, 1 << 30));
  cmd->add_option("--probe-dims", signal.probe_dims, "hidden vectors wider than this are randomly projected to it")
      ->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_flag("--no-probe", flags->no_probe, "do not ask for hidden vectors (no probe models)");
  cmd->add_flag("--no-predictor", flags->no_predictor, "do not evaluate the plugin's own predictor");
  cmd->add_option("--min-training-groups", flags->predictor.min_training_groups,
                  "the plugin predictor's outcomes needed before its supervised model replaces the prior")
      ->capture_default_str();
  cmd->add_option("--batch-rows", job.batch_rows, "rows scored per batch")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  cmd->callback([flags] {
    int rc = RunEvaluateCommand(*flags);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace sparsegate::cli

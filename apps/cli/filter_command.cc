#include "apps/cli/filter_command.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "apps/cli/embedded_model.h"
#include "apps/cli/source_flags.h"
#include "apps/offline/filter/filter_job.h"
#include "apps/offline/statistics/cluster_bootstrap.h"

namespace sparsegate::cli {
namespace {

struct FilterFlags {
  offline::FilterOptions job;
  SourceFlags source{FindEmbeddedModel()};
  std::string shard = "0/1";
  std::string progress = "auto";
  std::string hint_template;
  bool ghpo_hint = false;
};

absl::Status ParseShard(const std::string& text, offline::FilterOptions* job) {
  std::vector<std::string> parts = absl::StrSplit(text, '/');
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &job->shard_index) ||
      !absl::SimpleAtoi(parts[1], &job->shard_count) || job->shard_count < 1 || job->shard_index < 0 ||
      job->shard_index >= job->shard_count) {
    return absl::InvalidArgumentError(absl::StrCat("--shard '", text, "': expected i/n with 0 <= i < n"));
  }
  return absl::OkStatus();
}

void PrintSummary(const offline::FilterSummary& s) {
  const nlohmann::json& r = s.report;
  std::cout << absl::StrFormat("%-10s %8s %8s %12s\n", "decision", "rows", "share", "mean p(pass)");
  for (const auto& d : r["decisions"]) {
    const auto& mean = d["predicted_pass_rate"]["mean"];
    std::cout << absl::StrFormat("%-10s %8d %7.1f%% %12s\n", d["decision"].get<std::string>(), d["rows"].get<int64_t>(),
                                 d["share"].is_null() ? 0.0 : 100 * d["share"].get<double>(),
                                 mean.is_null() ? "-" : absl::StrFormat("%.3f", mean.get<double>()));
  }
  std::cout << absl::StrFormat("%-10s %8d\n", "rejected", s.rejected);
  if (r.contains("outcome")) {
    const auto& held = r["outcome"]["held_out"];
    auto number = [](const nlohmann::json& v) { return v.is_number() ? absl::StrFormat("%.3f", v.get<double>()) : "n/a"; };
    auto interval = [&](const char* key) {
      return offline::IntervalText(held["intervals"].contains(key) ? held["intervals"][key] : nlohmann::json());
    };
    std::cout << absl::StrFormat(
        "outcomes: %d rows calibrate the predictor; on %d held-out rows: AUROC(pass@G=0) %s (prompt length alone: "
        "%s), calibration error %s\n",
        s.outcome_rows, held["groups"].get<int64_t>(), interval("zero_pass_auroc"), interval("length_baseline_auroc"),
        number(held["expected_calibration_error"]));
    if (held["intervals"].contains("controls_baseline_auroc"))
      std::cout << "  controls alone: AUROC " << interval("controls_baseline_auroc") << "\n";
    const auto& kept = held["never_pass_by_decision"];
    if (kept.contains("keep"))
      std::cout << absl::StrFormat("  %s of %d held-out kept rows never pass\n",
                                   number(kept["keep"]["never_pass_share"]), kept["keep"]["rows"].get<int64_t>());
  }
  std::cout << "report: " << s.report_html_path << " (numbers in " << s.report_json_path << ")\n";
}

int RunFilterCommand(FilterFlags flags) {
  if (absl::Status s = ParseShard(flags.shard, &flags.job); !s.ok()) {
    spdlog::error("{}", std::string(s.message()));
    return 2;
  }
  flags.job.truncation = flags.source.truncation;
  flags.job.progress_bar = flags.progress == "always" || (flags.progress == "auto" && isatty(STDERR_FILENO));
  if (flags.ghpo_hint) flags.job.plugin.hint_template = plugin::HintTemplate::Ghpo();
  if (!flags.hint_template.empty()) flags.job.plugin.hint_template.block = flags.hint_template;
  auto source = MakeSource(flags.source);
  if (!source.ok()) {
    spdlog::error("{}", std::string(source.status().message()));
    return 2;
  }
  spdlog::info("filtering {} with {} into {}", flags.job.input_path, (*source)->Describe(), flags.job.output_dir);
  auto summary = offline::RunFilter(flags.job, **source);
  if (!summary.ok()) return FailedJobExitCode(summary.status());
  if (summary->resumed) spdlog::info("continued an interrupted run");
  PrintSummary(*summary);
  return summary->rejected > 0 ? 1 : 0;
}

}  // namespace

void AddFilterCommand(CLI::App& app) {
  auto flags = std::make_shared<FilterFlags>();
  offline::FilterOptions& job = flags->job;
  plugin::PolicyConfig& policy = job.plugin.policy;
  // Offline there are no rollouts to find out that a prompt is hopeless: drop it on the prediction.
  policy.drop_hopeless_below = 0.01;
  CLI::App* cmd = app.add_subcommand("filter", "Sort a JSONL dataset into kept, guided and dropped rows, with a report");
  cmd->add_option("--input,-i", job.input_path, "JSONL dataset")->required()->check(CLI::ExistingFile);
  cmd->add_option("--output-dir,-o", job.output_dir, "where kept/guided/dropped/rejects.jsonl and the report go")
      ->required();
  AddSourceOptions(cmd, &flags->source);
  cmd->add_option("--id-field", job.fields.id, "row field with a unique id ('' : use line numbers)")->capture_default_str();
  cmd->add_option("--prompt-field", job.fields.prompt, "row field with the prompt text")->capture_default_str();
  cmd->add_option("--reference-field", job.fields.reference, "row field with the reference solution (optional per row)")
      ->capture_default_str();
  cmd->add_option("--outcomes", job.outcomes_path, "JSONL of {id, successes, trials}: observed pass rates that calibrate the predictor")
      ->check(CLI::ExistingFile);
  cmd->add_option("--control", job.control_fields,
                  "row field(s) whose values the report's controls baseline predicts from (with --outcomes)")
      ->delimiter(',');
  cmd->add_flag("--control-inputs", job.control_inputs,
                "also give the --control fields to the predictor as inputs (numbers as they are, categories one-hot)");
  cmd->add_option("--shard", flags->shard, "i/n: this job handles lines with (line - 1) % n == i")->capture_default_str();
  cmd->add_option("--batch-rows", job.batch_rows, "rows per batch (and per checkpoint)")->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--reference-rows", job.reference_rows, "first rows used as the prior's reference set")
      ->capture_default_str()->check(CLI::Range(0, 1 << 24));
  cmd->add_flag("--restart", job.restart, "ignore an interrupted run's progress in the output directory");
  cmd->add_option("--drop-below", policy.drop_below, "drop a row without a reference predicted below this pass rate")
      ->capture_default_str();
  cmd->add_option("--drop-hopeless-below", policy.drop_hopeless_below,
                  "drop even a row with a reference predicted below this pass rate (0: guide it instead)")
      ->capture_default_str();
  cmd->add_option("--hint-ladder", policy.hint_ladder, "fractions of the reference shown at rungs 1..n")->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--start-rung-below", policy.start_rung_below, "predicted pass rates under which to start at rungs 1..n")
      ->delimiter(',')->capture_default_str();
  cmd->add_flag("--defer-easy", policy.enable_defer, "drop (defer) rows predicted trivially easy");
  cmd->add_option("--defer-above", policy.defer_above, "with --defer-easy: predicted pass rate above which")
      ->capture_default_str();
  cmd->add_option("--min-training-groups", job.plugin.predictor.min_training_groups,
                  "outcomes needed before the supervised predictor may replace the prior")->capture_default_str();
  cmd->add_option("--hint-template", flags->hint_template, "hint block appended to the prompt, with one {hint}");
  cmd->add_flag("--ghpo-hint", flags->ghpo_hint, "use GHPO's hint wording");
  cmd->add_option("--progress", flags->progress, "progress bar on stderr")->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  cmd->callback([flags] {
    int rc = RunFilterCommand(*flags);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace sparsegate::cli

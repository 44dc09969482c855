// The offline filter: every row of a JSONL dataset goes to exactly one of kept, guided (with its
// hinted prompt) or dropped, or, if it cannot be read, to rejects, with its features, predicted
// pass rate and decision. The decisions are the trainer plugin's (TrainerPlugin::Decide), made as
// at the start of a training run.
//
// The job runs in two passes over the input:
//   1. Calibration. The first `reference_rows` readable rows of the whole input (every shard reads
//      the same ones) become the prior's reference set; rows whose id the outcomes file lists train
//      the predictor (TrainerPlugin::ObserveOffline). Duplicate ids are found here. The calibrated
//      plugin is saved, so every later decision depends only on its row: shards and resumed runs
//      decide exactly as one uninterrupted run would.
//   2. Filtering, `batch_rows` rows at a time (this shard's rows only: line number % n == i). After
//      each batch the outputs are flushed and progress.json records the input position and every
//      output file's size. A killed run restarts from there: the outputs are cut back to the
//      recorded sizes, so no row is lost or written twice.
// Finally report.json and report.html (offline/report.h) are built from the output files.
//
// A bad row (invalid JSON, not an object, a missing or ill-typed field, a duplicate id, a prompt
// the model refuses) goes to the rejects file with its line number and the reason, and to stderr
// as FILE:LINE: reason. Errors in the outcomes file stop the job before any work, naming the line.
#ifndef SPARSEGATE_APPS_OFFLINE_FILTER_FILTER_JOB_H_
#define SPARSEGATE_APPS_OFFLINE_FILTER_FILTER_JOB_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "apps/offline/sources/feature_source.h"
#include "nlohmann/json.hpp"
#include "trainer_plugin/plugin.h"

namespace sparsegate::offline {

struct FilterFields {
  std::string id = "id";  // empty: rows are named by their line number ("line-17")
  std::string prompt = "prompt";
  std::string reference = "solution";  // optional per row: without it a row can be kept or dropped, not guided
};

struct FilterOptions {
  std::string input_path;
  std::string output_dir;
  FilterFields fields;
  std::string outcomes_path;  // optional JSONL: {"id", "successes", "trials"} per line
  // Row fields (a level, a source, a topic) for the report's controls baseline: what the outcomes
  // say the pass rate is at the same values, which the predictor must beat to add anything.
  std::vector<std::string> control_fields;
  // Also give the control fields to the predictor as input columns (control_inputs.h).
  bool control_inputs = false;
  int shard_index = 0;
  int shard_count = 1;
  int batch_rows = 256;
  int reference_rows = 512;
  bool restart = false;       // ignore the progress of an earlier run in output_dir
  bool progress_bar = false;  // on stderr
  plugin::PluginConfig plugin;
  // What the source does with a prompt over the model's token limit: "reject" (the row goes to the
  // rejects file with its token count) or "left" (scored on its last tokens, marked truncated).
  // Recorded in the settings: a run does not resume under the other.
  std::string truncation = "reject";
};

struct FilterSummary {
  std::array<int64_t, plugin::kDecisionKindCount> decisions{};  // indexed by DecisionKind
  int64_t rejected = 0;
  int64_t outcome_rows = 0;   // rows of the outcomes file found in the input
  bool resumed = false;       // continued an interrupted run
  nlohmann::json report;      // report.json's contents
  std::string report_html_path;
  std::string report_json_path;
};

// The file name of one output of one shard: "kept.jsonl", or "kept-00001-of-00004.jsonl"; "report"
// and the state directory ".filter-state" get no extension.
std::string ShardFileName(const std::string& stem, const FilterOptions& options);

absl::StatusOr<FilterSummary> RunFilter(const FilterOptions& options, FeatureSource& source);

}  // namespace sparsegate::offline

#endif  // SPARSEGATE_APPS_OFFLINE_FILTER_FILTER_JOB_H_

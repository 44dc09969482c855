#include "apps/offline/filter/filter_job.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "apps/offline/dataset/control_inputs.h"
#include "apps/offline/dataset/jsonl_rows.h"
#include "apps/offline/dataset/outcomes.h"
#include "apps/offline/filter/filter_outputs.h"
#include "apps/offline/filter/filter_progress.h"
#include "apps/offline/filter/progress_bar.h"
#include "apps/offline/filter/report.h"
#include "apps/offline/pages/report_page.h"
#include "difficulty_service/core/common/clock.h"
#include "trainer_plugin/config_json.h"
#include "trainer_plugin/state/atomic_file.h"

namespace sparsegate::offline {

using plugin::DecisionKind;
using plugin::DecisionKindName;
using plugin::PromptFeatures;
using plugin::FeatureSchema;
using plugin::TrainerPlugin;
using plugin::Decision;
using plugin::PromptInfo;
using plugin::WriteFileAtomically;
using plugin::PredictionSourceName;

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A row as the filter reads it.
struct FilterRow {
  int64_t line = 0;
  json value;
  std::string raw;
  std::string id;
  std::string prompt;
  std::optional<std::string> reference;
};

absl::StatusOr<FilterRow> ReadRow(JsonlRow row, const FilterFields& fields) {
  if (!row.error.empty()) return absl::InvalidArgumentError(row.error);
  if (!row.value.is_object()) return absl::InvalidArgumentError("row is not a JSON object");
  FilterRow out;
  out.line = row.line;
  const json& v = row.value;
  if (fields.id.empty()) {
    out.id = absl::StrCat("line-", row.line);
  } else {
    auto id = v.find(fields.id);
    if (id == v.end()) return absl::InvalidArgumentError(absl::StrCat("missing field '", fields.id, "'"));
    std::optional<std::string> text = IdText(*id);
    if (!text)
      return absl::InvalidArgumentError(absl::StrCat("field '", fields.id, "' is not a non-empty string or an integer"));
    out.id = *std::move(text);
  }
  auto prompt = v.find(fields.prompt);
  if (prompt == v.end()) return absl::InvalidArgumentError(absl::StrCat("missing field '", fields.prompt, "'"));
  if (!prompt->is_string() || prompt->get<std::string>().empty())
    return absl::InvalidArgumentError(absl::StrCat("field '", fields.prompt, "' is not a non-empty string"));
  out.prompt = prompt->get<std::string>();
  if (auto ref = v.find(fields.reference); ref != v.end() && !ref->is_null()) {
    if (!ref->is_string()) return absl::InvalidArgumentError(absl::StrCat("field '", fields.reference, "' is not a string"));
    if (!ref->get<std::string>().empty()) out.reference = ref->get<std::string>();
  }
  out.value = std::move(row.value);
  out.raw = std::move(row.raw);
  return out;
}

bool InShard(int64_t line, const FilterOptions& o) { return (line - 1) % o.shard_count == o.shard_index; }

// What must be equal for a run to continue an earlier one: the input and outcomes files as they
// were, and every setting of the job and the plugin (config_json.h lists the plugin's fields).
json FilterSettings(const FilterOptions& o, const FeatureSchema& schema) {
  std::error_code ec;
  const auto input_bytes = fs::file_size(o.input_path, ec);
  const auto outcomes_bytes = o.outcomes_path.empty() ? 0 : fs::file_size(o.outcomes_path, ec);
  return json{
      {"input", fs::absolute(o.input_path).string()},
      {"input_bytes", input_bytes},
      {"outcomes", o.outcomes_path.empty() ? "" : fs::absolute(o.outcomes_path).string()},
      {"outcomes_bytes", outcomes_bytes},
      {"fields", {{"id", o.fields.id}, {"prompt", o.fields.prompt}, {"reference", o.fields.reference}}},
      {"shard", {o.shard_index, o.shard_count}},
      {"reference_rows", o.reference_rows},
      {"features", schema.columns},
      {"truncation", o.truncation},
      {"control_inputs", o.control_inputs ? json(o.control_fields) : json::array()},
      {"plugin", plugin::PluginConfigToJson(o.plugin)},
  };
}

// The first setting that differs, as "'key' differs (path.to.key)"; objects are searched in depth.
std::string FirstDifference(const json& a, const json& b, const std::string& path = "") {
  for (const auto& [key, value] : a.items()) {
    const std::string where = path.empty() ? key : absl::StrCat(path, ".", key);
    if (!b.contains(key)) return absl::StrCat("'", key, "' differs (", where, ")");
    if (b[key] == value) continue;
    if (value.is_object() && b[key].is_object()) return FirstDifference(value, b[key], where);
    return absl::StrCat("'", key, "' differs (", where, ")");
  }
  return "'settings' differ";
}

// Scores `rows` in chunks; rows the source refuses come back as errors, in order. With `controls`,
// each row's control columns follow its metrics.
absl::StatusOr<std::vector<absl::StatusOr<PromptFeatures>>> ScoreRows(const std::vector<const FilterRow*>& rows,
                                                                      FeatureSource& source, int chunk,
                                                                      const ControlInputs* controls) {
  std::vector<absl::StatusOr<PromptFeatures>> all;
  for (size_t first = 0; first < rows.size(); first += chunk) {
    std::vector<std::string> prompts;
    for (size_t i = first; i < std::min(rows.size(), first + chunk); ++i) prompts.push_back(rows[i]->prompt);
    auto scored = source.Score(prompts);
    if (!scored.ok()) return scored.status();
    for (auto& result : *scored) {
      if (controls && result.ok()) controls->Append(rows[all.size()]->value, &*result);
      all.push_back(std::move(result));
    }
  }
  return all;
}

// Pass 1: the prior's reference set and the predictor's training outcomes; duplicate ids.
struct Calibration {
  std::map<int64_t, int64_t> duplicate_of;  // line -> the line where its id first appeared
  int64_t shard_rows = 0;                   // non-blank lines of this shard, for the progress bar
  int64_t outcome_rows = 0;
};

absl::StatusOr<Calibration> Calibrate(const FilterOptions& o, const std::map<std::string, Outcome>& outcomes,
                                      FeatureSource& source, const ControlInputs* controls, TrainerPlugin& plugin) {
  std::ifstream in(o.input_path);
  if (!in) return absl::NotFoundError(absl::StrCat(o.input_path, ": cannot open"));
  Calibration c;
  std::map<std::string, int64_t> first_line;
  // The reference rows and the rows with outcomes, in input order, each once.
  std::vector<FilterRow> picked;
  std::vector<bool> in_reference;
  int reference_count = 0;
  JsonlReader reader(in);
  while (std::optional<JsonlRow> raw = reader.Next()) {
    if (InShard(raw->line, o)) ++c.shard_rows;
    auto row = ReadRow(*std::move(raw), o.fields);
    if (!row.ok()) continue;  // rejected in pass 2, by the row's own shard
    auto [it, fresh] = first_line.emplace(row->id, row->line);
    if (!fresh) {
      c.duplicate_of[row->line] = it->second;
      continue;
    }
    const bool reference_row = reference_count < o.reference_rows;
    if (!reference_row && outcomes.count(row->id) == 0) continue;
    reference_count += reference_row;
    in_reference.push_back(reference_row);
    picked.push_back(*std::move(row));
  }
  std::vector<const FilterRow*> to_score;
  for (const auto& r : picked) to_score.push_back(&r);
  auto scored = ScoreRows(to_score, source, o.batch_rows, controls);
  if (!scored.ok()) return scored.status();
  std::vector<PromptFeatures> reference_features;
  for (size_t i = 0; i < picked.size(); ++i)
    if (in_reference[i] && (*scored)[i].ok()) reference_features.push_back(*(*scored)[i]);
  if (!reference_features.empty()) {
    if (absl::Status s = plugin.SetPriorReference(reference_features); !s.ok()) return s;
  }
  for (size_t i = 0; i < picked.size(); ++i) {
    auto outcome = outcomes.find(picked[i].id);
    if (outcome == outcomes.end() || !(*scored)[i].ok()) continue;
    absl::Status s =
        plugin.ObserveOffline(picked[i].id, *(*scored)[i], outcome->second.successes, outcome->second.trials);
    if (!s.ok()) return s;
    ++c.outcome_rows;
  }
  return c;
}

json OutputRow(const FilterRow& row, const PromptFeatures& features, const Decision& decision,
               const FeatureSchema& schema, const FilterOptions& o, const std::map<std::string, Outcome>& outcomes,
               const TrainerPlugin& plugin) {
  json sg = json::object();
  sg["line"] = row.line;
  sg["id"] = row.id;
  sg["decision"] = std::string(DecisionKindName(decision.kind));
  if (decision.prediction) {
    sg["predicted_pass_rate"] = decision.prediction->pass_rate;
    sg["prediction_source"] = std::string(PredictionSourceName(decision.prediction->source));
  } else {
    sg["predicted_pass_rate"] = nullptr;
    sg["prediction_source"] = nullptr;
  }
  sg["hint_level"] = decision.hint_level;
  sg["hint_fraction"] = decision.hint_fraction;
  sg["reason"] = decision.reason;
  sg["token_count"] = features.token_count;
  sg["truncated"] = features.truncated;
  if (features.truncated) sg["original_token_count"] = features.original_token_count;
  json metrics = json::object();
  for (size_t i = 0; i < schema.size(); ++i) metrics[schema.columns[i]] = features.metrics[i];
  sg["features"] = std::move(metrics);
  if (auto it = outcomes.find(row.id); it != outcomes.end()) {
    sg["outcome"] = {{"successes", it->second.successes},
                     {"trials", it->second.trials},
                     {"holdout", plugin.IsHoldout(row.id)}};
  }
  json out = row.value;
  if (decision.kind == DecisionKind::kGuide) {
    sg["original_prompt"] = row.prompt;
    sg["hint"] = decision.hint_text;
    out[o.fields.prompt] = decision.prompt_text;
  }
  out["sparsegate"] = std::move(sg);
  return out;
}

absl::Status WriteReport(const FilterOptions& o, const FeatureSource& source, const json& settings,
                         FilterSummary* summary) {
  std::vector<ReportRow> rows;
  for (const char* stem : {"kept", "guided", "dropped"}) {
    const std::string path = (fs::path(o.output_dir) / ShardFileName(stem, o)).string();
    std::ifstream in(path);
    JsonlReader reader(in);
    while (std::optional<JsonlRow> row = reader.Next()) {
      auto parsed = row->error.empty() ? ReportRowFromOutput(row->value, o.control_fields) : absl::InvalidArgumentError(row->error);
      if (!parsed.ok()) return absl::DataLossError(absl::StrCat(path, ":", row->line, ": ", parsed.status().message()));
      if (auto kind = plugin::DecisionKindFromName(parsed->decision)) ++summary->decisions[static_cast<int>(*kind)];
      rows.push_back(*std::move(parsed));
    }
  }
  ReportContext context;
  context.title = absl::StrCat("sparsegate filter: ", o.input_path,
                               o.shard_count > 1 ? absl::StrCat(" (shard ", o.shard_index, " of ", o.shard_count, ")")
                                                 : "");
  context.model = source.Describe();
  context.generated_at = IsoTimeNow();
  context.rejected_rows = summary->rejected;
  context.settings = settings;
  context.control_fields = o.control_fields;
  summary->report = BuildReport(rows, context);
  const std::string base = (fs::path(o.output_dir) / ShardFileName("report", o)).string();
  summary->report_json_path = base + ".json";
  summary->report_html_path = base + ".html";
  if (absl::Status s = WriteFileAtomically(summary->report_json_path, summary->report.dump(1) + "\n"); !s.ok()) return s;
  return WriteFileAtomically(summary->report_html_path, RenderReportHtml(summary->report));
}

}  // namespace

std::string ShardFileName(const std::string& stem, const FilterOptions& o) {
  std::string name = stem;
  if (o.shard_count > 1) name += absl::StrFormat("-%05d-of-%05d", o.shard_index, o.shard_count);
  return stem == "report" || stem == ".filter-state" ? name : name + ".jsonl";
}

namespace {

struct JobPaths {
  fs::path state_dir;
  std::string progress;
  std::string plugin;
  std::string lock;
  std::map<std::string, std::string> outputs;  // stem -> file
};

JobPaths PathsOf(const FilterOptions& o) {
  JobPaths p;
  const fs::path dir(o.output_dir);
  p.state_dir = dir / ShardFileName(".filter-state", o);
  p.progress = (p.state_dir / "progress.json").string();
  p.plugin = (p.state_dir / "plugin.json").string();
  p.lock = (dir / (ShardFileName(".filter-state", o) + ".lock")).string();
  for (const char* stem : FilterOutputs::kStems) p.outputs[stem] = (dir / ShardFileName(stem, o)).string();
  return p;
}

// The rows of the next batch of this shard: the readable ones, while the unreadable ones and
// duplicates go to rejects at once. `lines` counts both.
struct Batch {
  std::vector<FilterRow> rows;
  int64_t lines = 0;
  bool eof = false;
};

// One run of the filter over one shard, from the calibration pass to the report: it owns the
// settings, the output files, the progress record and the plugin.
class FilterJob {
 public:
  // Checks the options, reads the outcomes, takes the output directory's lock and builds the
  // plugin; nothing is scored yet.
  static absl::StatusOr<std::unique_ptr<FilterJob>> Open(const FilterOptions& options, FeatureSource& source);
  absl::StatusOr<FilterSummary> Run();

 private:
  FilterJob(const FilterOptions& options, FeatureSource& source) : o_(options), source_(source), paths_(PathsOf(options)) {}

  // The progress of an interrupted run with the same settings and its calibrated plugin, or a
  // fresh start: the calibration pass, the calibrated plugin saved, an empty progress record.
  absl::Status ResumeOrStart();
  Batch ReadBatch(JsonlReader& reader);
  // Scores and decides one batch with the calibrated plugin as it was after calibration (so each
  // decision depends on its row alone) and writes every row to its output.
  absl::Status DecideBatch(const Batch& batch);
  void Reject(int64_t line, const std::string& raw, const std::string& why);
  const ControlInputs* controls() const { return controls_ ? &*controls_ : nullptr; }

  const FilterOptions& o_;
  FeatureSource& source_;
  const JobPaths paths_;
  std::unique_ptr<OutputDirectoryLock> lock_;
  std::map<std::string, Outcome> outcomes_;
  std::optional<ControlInputs> controls_;
  FeatureSchema schema_;
  std::unique_ptr<TrainerPlugin> plugin_;
  json settings_;
  plugin::PluginCheckpoint calibrated_;  // the plugin after the calibration pass
  FilterProgress progress_;
  std::optional<FilterOutputs> outputs_;
  FilterSummary summary_;
};

absl::StatusOr<std::unique_ptr<FilterJob>> FilterJob::Open(const FilterOptions& o, FeatureSource& source) {
  if (o.shard_count < 1 || o.shard_index < 0 || o.shard_index >= o.shard_count)
    return absl::InvalidArgumentError(absl::StrCat("shard ", o.shard_index, "/", o.shard_count,
                                                   ": need 0 <= i < n"));
  if (o.batch_rows < 1 || o.reference_rows < 0) return absl::InvalidArgumentError("batch_rows must be >= 1");
  std::unique_ptr<FilterJob> job(new FilterJob(o, source));
  auto outcomes = LoadOutcomes(o.outcomes_path);
  if (!outcomes.ok()) return outcomes.status();
  job->outcomes_ = *std::move(outcomes);
  std::error_code ec;
  fs::create_directories(o.output_dir, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat(o.output_dir, ": cannot create: ", ec.message()));
  // An existing directory the run cannot write to fails here, before any row is read, with the reason.
  if (::access(o.output_dir.c_str(), W_OK) != 0)
    return absl::PermissionDeniedError(
        absl::StrCat(o.output_dir, ": the output directory is not writable: ", std::strerror(errno)));
  // Two runs appending to the same files would interleave their rows: one run per output directory
  // and shard, for as long as the job lives.
  auto lock = OutputDirectoryLock::Acquire(job->paths_.lock);
  if (!lock.ok()) return lock.status();
  job->lock_ = *std::move(lock);
  if (o.control_inputs) {
    auto scanned = ControlInputs::Scan(o.input_path, o.control_fields);
    if (!scanned.ok()) return scanned.status();
    job->controls_ = *std::move(scanned);
  }
  job->schema_ = job->controls_ ? job->controls_->Extend(source.schema()) : source.schema();
  auto plugin = TrainerPlugin::Create(job->schema_, o.plugin);
  if (!plugin.ok()) return plugin.status();
  job->plugin_ = *std::move(plugin);
  job->settings_ = FilterSettings(o, job->schema_);
  return job;
}

absl::Status FilterJob::ResumeOrStart() {
  std::error_code lookup;
  // A progress file that cannot even be looked up (a link loop) is for Load to name, not to skip.
  const bool progress_exists = fs::exists(paths_.progress, lookup) || lookup;
  if (!o_.restart && progress_exists) {
    auto progress = FilterProgress::Load(paths_.progress);
    if (!progress.ok()) return progress.status();
    if (progress->settings != settings_) {
      return absl::FailedPreconditionError(absl::StrCat(
          o_.output_dir, " holds a run with other settings (", FirstDifference(settings_, progress->settings),
          "); use --restart to start over there, or another output directory"));
    }
    if (absl::Status s = plugin_->Load(paths_.plugin); !s.ok()) return s;
    calibrated_ = plugin_->Snapshot();
    progress_ = *std::move(progress);
    summary_.resumed = true;
    return absl::OkStatus();
  }
  std::error_code ec;
  fs::remove_all(paths_.state_dir, ec);
  fs::create_directories(paths_.state_dir, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat(paths_.state_dir.string(), ": cannot create: ", ec.message()));
  auto calibration = Calibrate(o_, outcomes_, source_, controls(), *plugin_);
  if (!calibration.ok()) return calibration.status();
  if (absl::Status s = plugin_->Save(paths_.plugin); !s.ok()) return s;
  calibrated_ = plugin_->Snapshot();
  progress_ = FilterProgress{};
  progress_.settings = settings_;
  progress_.duplicates = calibration->duplicate_of;
  progress_.shard_rows = calibration->shard_rows;
  progress_.outcome_rows = calibration->outcome_rows;
  return absl::OkStatus();
}

void FilterJob::Reject(int64_t line, const std::string& raw, const std::string& why) {
  std::cerr << o_.input_path << ":" << line << ": " << why << "\n";
  outputs_->Write("rejects", json{{"line", line}, {"error", why}, {"raw", raw}});
  ++summary_.rejected;
}

Batch FilterJob::ReadBatch(JsonlReader& reader) {
  Batch batch;
  while (static_cast<int>(batch.rows.size()) < o_.batch_rows) {
    std::optional<JsonlRow> raw = reader.Next();
    if (!raw) {
      batch.eof = true;
      break;
    }
    if (!InShard(raw->line, o_)) continue;
    ++batch.lines;
    const int64_t line = raw->line;
    const std::string text = raw->raw;
    auto row = ReadRow(*std::move(raw), o_.fields);
    if (!row.ok()) {
      Reject(line, text, std::string(row.status().message()));
    } else if (auto d = progress_.duplicates.find(line); d != progress_.duplicates.end()) {
      Reject(line, text, absl::StrCat("duplicate id '", row->id, "' (first on line ", d->second, ")"));
    } else {
      batch.rows.push_back(*std::move(row));
    }
  }
  return batch;
}

absl::Status FilterJob::DecideBatch(const Batch& batch) {
  std::vector<const FilterRow*> to_score;
  for (const auto& r : batch.rows) to_score.push_back(&r);
  auto scored = ScoreRows(to_score, source_, o_.batch_rows, controls());
  if (!scored.ok()) return scored.status();
  if (absl::Status s = plugin_->Restore(calibrated_, "the calibrated plugin"); !s.ok()) return s;
  std::vector<PromptInfo> infos;
  std::vector<PromptFeatures> features;
  std::vector<const FilterRow*> decided;
  for (size_t i = 0; i < batch.rows.size(); ++i) {
    const FilterRow& row = batch.rows[i];
    if (!(*scored)[i].ok()) {
      Reject(row.line, row.raw, std::string((*scored)[i].status().message()));
      continue;
    }
    infos.push_back(PromptInfo{row.id, row.prompt, row.reference});
    features.push_back(*(*scored)[i]);
    decided.push_back(&row);
  }
  auto decisions = plugin_->Decide(infos, features);
  if (!decisions.ok()) return decisions.status();
  for (size_t i = 0; i < decided.size(); ++i) {
    const Decision& d = (*decisions)[i];
    const char* stem = d.kind == DecisionKind::kKeep ? "kept" : d.kind == DecisionKind::kGuide ? "guided" : "dropped";
    outputs_->Write(stem, OutputRow(*decided[i], features[i], d, schema_, o_, outcomes_, *plugin_));
  }
  return absl::OkStatus();
}

absl::StatusOr<FilterSummary> FilterJob::Run() {
  if (absl::Status s = ResumeOrStart(); !s.ok()) return s;
  summary_.outcome_rows = progress_.outcome_rows;
  summary_.rejected = progress_.rejected;
  // Every output cut back to what the last checkpoint recorded, then appended to.
  auto outputs = FilterOutputs::Open(paths_.outputs, progress_.sizes);
  if (!outputs.ok()) return outputs.status();
  outputs_.emplace(*std::move(outputs));
  std::ifstream in(o_.input_path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(o_.input_path, ": cannot open"));
  in.seekg(progress_.input_offset);
  JsonlReader reader(in, progress_.next_line);
  ProgressBar bar(o_.progress_bar, progress_.shard_rows, progress_.rows_done);
  while (!progress_.done) {
    Batch batch = ReadBatch(reader);
    if (absl::Status s = DecideBatch(batch); !s.ok()) return s;
    // Checkpoint: the outputs first, then the record of how far they go.
    if (absl::Status s = outputs_->Flush(); !s.ok()) return s;
    progress_.sizes = outputs_->Sizes();
    progress_.rows_done += batch.lines;
    progress_.input_offset = batch.eof ? 0 : static_cast<int64_t>(in.tellg());
    progress_.next_line = reader.line();
    progress_.rejected = summary_.rejected;
    progress_.done = batch.eof;
    if (absl::Status s = progress_.Save(paths_.progress); !s.ok()) return s;
    bar.Update(progress_.rows_done);
  }
  bar.Finish();
  if (absl::Status s = WriteReport(o_, source_, settings_, &summary_); !s.ok()) return s;
  return std::move(summary_);
}

}  // namespace

absl::StatusOr<FilterSummary> RunFilter(const FilterOptions& options, FeatureSource& source) {
  auto job = FilterJob::Open(options, source);
  if (!job.ok()) return job.status();
  return (*job)->Run();
}

}  // namespace sparsegate::offline

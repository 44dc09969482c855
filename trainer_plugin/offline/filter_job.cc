#include "trainer_plugin/offline/filter_job.h"

#include <fcntl.h>
#include <sys/file.h>

#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "difficulty_service/common/jsonl_rows.h"
#include "trainer_plugin/offline/progress_bar.h"
#include "trainer_plugin/offline/report.h"
#include "trainer_plugin/state/atomic_file.h"

namespace sparsegate::plugin {
namespace {

using cli::JsonlReader;
using cli::JsonlRow;
using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kOutputs[] = {"kept", "guided", "dropped", "rejects"};

// An output file opened for appending, with its size kept here: the checkpoint records it.
struct OutputFile {
  std::ofstream stream;
  uint64_t size = 0;
  void Write(const json& row) {
    const std::string line = cli::DumpJson(row) + "\n";
    stream << line;
    size += line.size();
  }
};

struct Outcome {
  int32_t successes = 0;
  int32_t trials = 0;
};

// A row as the filter reads it.
struct FilterRow {
  int64_t line = 0;
  json value;
  std::string raw;
  std::string id;
  std::string prompt;
  std::optional<std::string> reference;
};

// An id may be written as a string or an integer; both name the prompt by their text.
std::optional<std::string> IdText(const json& id) {
  if (id.is_string() && !id.get<std::string>().empty()) return id.get<std::string>();
  if (id.is_number_integer()) return std::to_string(id.get<int64_t>());
  return std::nullopt;
}

absl::StatusOr<std::map<std::string, Outcome>> LoadOutcomes(const std::string& path) {
  std::map<std::string, Outcome> outcomes;
  if (path.empty()) return outcomes;
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the outcomes file"));
  JsonlReader reader(in);
  while (std::optional<JsonlRow> row = reader.Next()) {
    auto fail = [&](const std::string& why) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", row->line, ": ", why));
    };
    if (!row->error.empty()) return fail(row->error);
    const json& v = row->value;
    if (!v.is_object()) return fail("row is not a JSON object");
    auto id = v.find("id");
    const std::optional<std::string> key = id == v.end() ? std::nullopt : IdText(*id);
    if (!key) return fail("needs an 'id' (non-empty string or integer)");
    auto s = v.find("successes"), t = v.find("trials");
    if (s == v.end() || t == v.end() || !s->is_number_integer() || !t->is_number_integer())
      return fail("needs integer 'successes' and 'trials'");
    Outcome o{s->get<int32_t>(), t->get<int32_t>()};
    if (o.trials < 1 || o.successes < 0 || o.successes > o.trials)
      return fail(absl::StrCat("need 0 <= successes <= trials and trials >= 1, got ", o.successes, " of ", o.trials));
    if (!outcomes.emplace(*key, o).second) return fail(absl::StrCat("id '", *key, "' is listed twice"));
  }
  return outcomes;
}

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

// What must be equal for a run to continue an earlier one: anything that changes a decision.
json Settings(const FilterOptions& o, const FeatureSource& source) {
  std::error_code ec;
  const auto input_bytes = fs::file_size(o.input_path, ec);
  const auto outcomes_bytes = o.outcomes_path.empty() ? 0 : fs::file_size(o.outcomes_path, ec);
  const PolicyConfig& p = o.plugin.policy;
  const PredictorConfig& q = o.plugin.predictor;
  return json{
      {"input", fs::absolute(o.input_path).string()},
      {"input_bytes", input_bytes},
      {"outcomes", o.outcomes_path.empty() ? "" : fs::absolute(o.outcomes_path).string()},
      {"outcomes_bytes", outcomes_bytes},
      {"fields", {{"id", o.fields.id}, {"prompt", o.fields.prompt}, {"reference", o.fields.reference}}},
      {"shard", {o.shard_index, o.shard_count}},
      {"reference_rows", o.reference_rows},
      {"features", source.schema().columns},
      {"hint_ladder", p.hint_ladder},
      {"start_rung_below", p.start_rung_below},
      {"drop_below", p.drop_below},
      {"drop_hopeless_below", p.drop_hopeless_below},
      {"enable_defer", p.enable_defer},
      {"defer_above", p.defer_above},
      {"prior_may_drop_or_defer", p.prior_may_drop_or_defer},
      {"min_training_groups", q.min_training_groups},
      {"holdout_modulus", q.holdout_modulus},
      {"hint_template", o.plugin.hint_template.block},
  };
}

std::string FirstDifference(const json& a, const json& b) {
  for (const auto& [key, value] : a.items())
    if (!b.contains(key) || b[key] != value) return key;
  return "?";
}

// Scores `rows` in chunks; rows the source refuses come back as errors, in order.
absl::StatusOr<std::vector<absl::StatusOr<PromptFeatures>>> ScoreRows(const std::vector<const FilterRow*>& rows,
                                                                      FeatureSource& source, int chunk) {
  std::vector<absl::StatusOr<PromptFeatures>> all;
  for (size_t first = 0; first < rows.size(); first += chunk) {
    std::vector<std::string> prompts;
    for (size_t i = first; i < std::min(rows.size(), first + chunk); ++i) prompts.push_back(rows[i]->prompt);
    auto scored = source.Score(prompts);
    if (!scored.ok()) return scored.status();
    for (auto& result : *scored) all.push_back(std::move(result));
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
                                      FeatureSource& source, TrainerPlugin& plugin) {
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
  auto scored = ScoreRows(to_score, source, o.batch_rows);
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

std::string NowIso() {
  std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buf;
}

absl::Status WriteReport(const FilterOptions& o, const FeatureSource& source, const json& settings,
                         FilterSummary* summary) {
  std::vector<ReportRow> rows;
  for (const char* stem : {"kept", "guided", "dropped"}) {
    const std::string path = (fs::path(o.output_dir) / ShardFileName(stem, o)).string();
    std::ifstream in(path);
    JsonlReader reader(in);
    while (std::optional<JsonlRow> row = reader.Next()) {
      auto parsed = row->error.empty() ? ReportRowFromOutput(row->value) : absl::InvalidArgumentError(row->error);
      if (!parsed.ok()) return absl::DataLossError(absl::StrCat(path, ":", row->line, ": ", parsed.status().message()));
      for (int k = 0; k < kDecisionKindCount; ++k)
        if (DecisionKindName(static_cast<DecisionKind>(k)) == parsed->decision) ++summary->decisions[k];
      rows.push_back(*std::move(parsed));
    }
  }
  ReportContext context;
  context.title = absl::StrCat("sparsegate filter: ", o.input_path,
                               o.shard_count > 1 ? absl::StrCat(" (shard ", o.shard_index, " of ", o.shard_count, ")")
                                                 : "");
  context.model = source.Describe();
  context.generated_at = NowIso();
  context.rejected_rows = summary->rejected;
  context.settings = settings;
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

absl::StatusOr<FilterSummary> RunFilter(const FilterOptions& o, FeatureSource& source) {
  if (o.shard_count < 1 || o.shard_index < 0 || o.shard_index >= o.shard_count)
    return absl::InvalidArgumentError(absl::StrCat("shard ", o.shard_index, "/", o.shard_count,
                                                   ": need 0 <= i < n"));
  if (o.batch_rows < 1 || o.reference_rows < 0) return absl::InvalidArgumentError("batch_rows must be >= 1");
  auto outcomes = LoadOutcomes(o.outcomes_path);
  if (!outcomes.ok()) return outcomes.status();
  std::error_code ec;
  fs::create_directories(o.output_dir, ec);
  if (ec) return absl::PermissionDeniedError(absl::StrCat(o.output_dir, ": cannot create: ", ec.message()));
  const fs::path state_dir = fs::path(o.output_dir) / ShardFileName(".filter-state", o);
  const std::string progress_path = (state_dir / "progress.json").string();
  const std::string plugin_path = (state_dir / "plugin.json").string();
  const json settings = Settings(o, source);
  // Two runs appending to the same files would interleave their rows: one run per output directory
  // and shard. The lock goes with the process, however it ends.
  const std::string lock_path = (fs::path(o.output_dir) / (ShardFileName(".filter-state", o) + ".lock")).string();
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0 || ::flock(lock_fd, LOCK_EX | LOCK_NB) != 0)
    return absl::FailedPreconditionError(absl::StrCat(lock_path, ": another filter run is using this output directory"));

  auto plugin = TrainerPlugin::Create(source.schema(), o.plugin);
  if (!plugin.ok()) return plugin.status();
  FilterSummary summary;
  json progress;
  if (!o.restart && fs::exists(progress_path)) {
    auto text = ReadFileToString(progress_path);
    if (!text.ok()) return text.status();
    progress = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (progress.is_discarded() || !progress.contains("settings"))
      return absl::DataLossError(absl::StrCat(progress_path, ": not a progress file; run with --restart"));
    if (progress["settings"] != settings) {
      return absl::FailedPreconditionError(absl::StrCat(
          o.output_dir, " holds a run with other settings ('", FirstDifference(settings, progress["settings"]),
          "' differs); use --restart to start over there, or another output directory"));
    }
    summary.resumed = true;
  } else {
    fs::remove_all(state_dir, ec);
    fs::create_directories(state_dir, ec);
    if (ec) return absl::PermissionDeniedError(absl::StrCat(state_dir.string(), ": cannot create: ", ec.message()));
    auto calibration = Calibrate(o, *outcomes, source, **plugin);
    if (!calibration.ok()) return calibration.status();
    if (absl::Status s = (*plugin)->Save(plugin_path); !s.ok()) return s;
    json duplicates = json::object();
    for (const auto& [line, first] : calibration->duplicate_of) duplicates[std::to_string(line)] = first;
    progress = {{"settings", settings},
                {"duplicates", duplicates},
                {"shard_rows", calibration->shard_rows},
                {"outcome_rows", calibration->outcome_rows},
                {"input_offset", 0},
                {"next_line", 0},
                {"rows_done", 0},
                {"rejected", 0},
                {"sizes", {{"kept", 0}, {"guided", 0}, {"dropped", 0}, {"rejects", 0}}},
                {"done", false}};
  }
  summary.outcome_rows = progress["outcome_rows"].get<int64_t>();

  // Cut every output back to what the last checkpoint recorded, then append.
  std::map<std::string, OutputFile> out;
  for (const char* stem : kOutputs) {
    const fs::path path = fs::path(o.output_dir) / ShardFileName(stem, o);
    const auto size = progress["sizes"][stem].get<uint64_t>();
    if (size == 0) {
      std::ofstream(path, std::ios::trunc);
    } else {
      fs::resize_file(path, size, ec);
      if (ec) return absl::DataLossError(absl::StrCat(path.string(), ": cannot resume: ", ec.message()));
    }
    out[stem].size = size;
    out[stem].stream.open(path, std::ios::app | std::ios::binary);
    if (!out[stem].stream) return absl::PermissionDeniedError(absl::StrCat(path.string(), ": cannot write"));
  }

  std::ifstream in(o.input_path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(o.input_path, ": cannot open"));
  in.seekg(progress["input_offset"].get<int64_t>());
  JsonlReader reader(in, progress["next_line"].get<int64_t>());
  const json& duplicates = progress["duplicates"];
  int64_t rows_done = progress["rows_done"].get<int64_t>();
  summary.rejected = progress["rejected"].get<int64_t>();
  ProgressBar bar(o.progress_bar, progress["shard_rows"].get<int64_t>(), rows_done);

  auto reject = [&](int64_t line, const std::string& raw, const std::string& why) {
    std::cerr << o.input_path << ":" << line << ": " << why << "\n";
    out["rejects"].Write(json{{"line", line}, {"error", why}, {"raw", raw}});
    ++summary.rejected;
  };
  for (bool eof = progress["done"].get<bool>(); !eof;) {
    std::vector<FilterRow> batch;
    int64_t batch_lines = 0;
    while (static_cast<int>(batch.size()) < o.batch_rows) {
      std::optional<JsonlRow> raw = reader.Next();
      if (!raw) {
        eof = true;
        break;
      }
      if (!InShard(raw->line, o)) continue;
      ++batch_lines;
      const int64_t line = raw->line;
      const std::string text = raw->raw;
      auto row = ReadRow(*std::move(raw), o.fields);
      if (!row.ok()) {
        reject(line, text, std::string(row.status().message()));
      } else if (auto d = duplicates.find(std::to_string(line)); d != duplicates.end()) {
        reject(line, text, absl::StrCat("duplicate id '", row->id, "' (first on line ", d->get<int64_t>(), ")"));
      } else {
        batch.push_back(*std::move(row));
      }
    }
    std::vector<const FilterRow*> to_score;
    for (const auto& r : batch) to_score.push_back(&r);
    auto scored = ScoreRows(to_score, source, o.batch_rows);
    if (!scored.ok()) return scored.status();
    // A fresh copy of the calibrated plugin per batch: each decision depends on its row alone.
    if (absl::Status s = (*plugin)->Load(plugin_path); !s.ok()) return s;
    std::vector<PromptInfo> infos;
    std::vector<PromptFeatures> features;
    std::vector<const FilterRow*> decided;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!(*scored)[i].ok()) {
        reject(batch[i].line, batch[i].raw, std::string((*scored)[i].status().message()));
        continue;
      }
      infos.push_back(PromptInfo{batch[i].id, batch[i].prompt, batch[i].reference});
      features.push_back(*(*scored)[i]);
      decided.push_back(&batch[i]);
    }
    auto decisions = (*plugin)->Decide(infos, features);
    if (!decisions.ok()) return decisions.status();
    for (size_t i = 0; i < decided.size(); ++i) {
      const Decision& d = (*decisions)[i];
      const char* stem = d.kind == DecisionKind::kKeep ? "kept" : d.kind == DecisionKind::kGuide ? "guided" : "dropped";
      out[stem].Write(OutputRow(*decided[i], features[i], d, source.schema(), o, *outcomes, **plugin));
    }
    // Checkpoint: the outputs first, then the record of how far they go.
    for (auto& [stem, file] : out) {
      file.stream.flush();
      if (!file.stream) return absl::DataLossError(absl::StrCat(ShardFileName(stem, o), ": write failed"));
      progress["sizes"][stem] = file.size;
    }
    rows_done += batch_lines;
    progress["input_offset"] = static_cast<int64_t>(eof ? 0 : static_cast<int64_t>(in.tellg()));
    progress["next_line"] = reader.line();
    progress["rows_done"] = rows_done;
    progress["rejected"] = summary.rejected;
    progress["done"] = eof;
    if (absl::Status s = WriteFileAtomically(progress_path, progress.dump(1)); !s.ok()) return s;
    bar.Update(rows_done);
  }
  bar.Finish();
  if (absl::Status s = WriteReport(o, source, settings, &summary); !s.ok()) return s;
  return summary;
}

}  // namespace sparsegate::plugin

#include "apps/offline/evaluate/evaluate_job.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "apps/offline/dataset/jsonl_rows.h"
#include "apps/offline/dataset/outcomes.h"
#include "apps/offline/pages/signal_report_page.h"
#include "difficulty_service/core/common/clock.h"
#include "trainer_plugin/config_json.h"
#include "trainer_plugin/state/atomic_file.h"

namespace sparsegate::offline {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A row as the evaluation reads it; `controls` holds each control field's JSON value.
struct EvaluationInputRow {
  int64_t line = 0;
  std::string id;
  std::string group;
  std::string prompt;
  std::optional<Outcome> outcome;
  std::vector<json> controls;
  std::string raw;
};

absl::StatusOr<std::string> TextField(const json& v, const std::string& field, const char* what) {
  auto it = v.find(field);
  if (it == v.end()) return absl::InvalidArgumentError(absl::StrCat("missing ", what, " field '", field, "'"));
  if (it->is_number_float()) return absl::StrFormat("%.17g", it->get<double>());
  std::optional<std::string> text = IdText(*it);
  if (!text)
    return absl::InvalidArgumentError(absl::StrCat(what, " field '", field, "' is not a non-empty string or a number"));
  return *text;
}

absl::StatusOr<EvaluationInputRow> ReadRow(const JsonlRow& row, const EvaluateOptions& o,
                                           const std::map<std::string, Outcome>& outcomes) {
  if (!row.error.empty()) return absl::InvalidArgumentError(row.error);
  if (!row.value.is_object()) return absl::InvalidArgumentError("row is not a JSON object");
  const json& v = row.value;
  EvaluationInputRow out;
  out.line = row.line;
  out.raw = row.raw;
  if (o.fields.id.empty()) {
    out.id = absl::StrCat("line-", row.line);
  } else {
    auto id = TextField(v, o.fields.id, "id");
    if (!id.ok()) return id.status();
    out.id = *id;
  }
  if (o.fields.group.empty()) {
    out.group = out.id;
  } else {
    auto group = TextField(v, o.fields.group, "group");
    if (!group.ok()) return group.status();
    out.group = *group;
  }
  auto prompt = StringField(v, o.fields.prompt);
  if (!prompt.ok()) return prompt.status();
  if (prompt->empty()) return absl::InvalidArgumentError(absl::StrCat("field '", o.fields.prompt, "' is empty"));
  out.prompt = *prompt;
  for (const ControlSpec& c : o.controls) {
    auto it = v.find(c.field);
    if (it == v.end() || it->is_null())
      return absl::InvalidArgumentError(absl::StrCat("missing control field '", c.field, "'"));
    if (!it->is_number() && !it->is_string() && !it->is_boolean())
      return absl::InvalidArgumentError(absl::StrCat("control field '", c.field, "' is not a number, string or boolean"));
    if (it->is_number() && !std::isfinite(it->get<double>()))
      return absl::InvalidArgumentError(absl::StrCat("control field '", c.field, "' is not finite"));
    if (c.kind == ControlSpec::Kind::kNumeric && !it->is_number())
      return absl::InvalidArgumentError(absl::StrCat("control field '", c.field, "' is declared numeric, got ", it->dump()));
    out.controls.push_back(*it);
  }
  if (!o.outcomes_path.empty()) {
    if (auto it = outcomes.find(out.id); it != outcomes.end()) out.outcome = it->second;
  } else {
    auto s = v.find(o.fields.successes), t = v.find(o.fields.trials);
    const bool has_s = s != v.end() && !s->is_null(), has_t = t != v.end() && !t->is_null();
    if (has_s != has_t)
      return absl::InvalidArgumentError(absl::StrCat("field '", has_s ? o.fields.trials : o.fields.successes,
                                                     "' is missing beside '", has_s ? o.fields.successes : o.fields.trials,
                                                     "'"));
    if (has_s) {
      auto outcome = OutcomeFrom(*s, *t);
      if (!outcome.ok()) return outcome.status();
      out.outcome = *outcome;
    }
  }
  return out;
}

std::string ControlText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return absl::StrCat(v.get<int64_t>());
  if (v.is_number()) return absl::StrFormat("%g", v.get<double>());
  return v.dump();  // true / false
}

std::vector<ControlColumn> BuildControls(const std::vector<EvaluationInputRow>& rows, const EvaluateOptions& o) {
  std::vector<ControlColumn> out;
  for (size_t c = 0; c < o.controls.size(); ++c) {
    ControlColumn col;
    col.name = o.controls[c].field;
    bool all_numbers = true;
    for (const auto& r : rows) all_numbers = all_numbers && r.controls[c].is_number();
    col.numeric = o.controls[c].kind == ControlSpec::Kind::kNumeric ||
                  (o.controls[c].kind == ControlSpec::Kind::kAuto && all_numbers);
    std::map<std::string, int> index;
    for (const auto& r : rows) {
      if (col.numeric) {
        col.values.push_back(r.controls[c].get<double>());
        continue;
      }
      const std::string text = ControlText(r.controls[c]);
      auto [it, added] = index.emplace(text, static_cast<int>(col.categories.size()));
      if (added) col.categories.push_back(text);
      col.category_of_row.push_back(it->second);
    }
    out.push_back(std::move(col));
  }
  return out;
}

}  // namespace

absl::StatusOr<ControlSpec> ParseControlSpec(const std::string& text) {
  ControlSpec spec;
  const size_t colon = text.rfind(':');
  spec.field = colon == std::string::npos ? text : text.substr(0, colon);
  if (colon != std::string::npos) {
    const std::string kind = text.substr(colon + 1);
    if (kind == "numeric") {
      spec.kind = ControlSpec::Kind::kNumeric;
    } else if (kind == "categorical") {
      spec.kind = ControlSpec::Kind::kCategorical;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--control '", text, "': the kind after ':' must be numeric or categorical"));
    }
  }
  if (spec.field.empty()) return absl::InvalidArgumentError(absl::StrCat("--control '", text, "': no field name"));
  return spec;
}

absl::StatusOr<EvaluateSummary> RunEvaluate(const EvaluateOptions& o, FeatureSource& source) {
  auto outcomes = LoadOutcomes(o.outcomes_path);
  if (!outcomes.ok()) return outcomes.status();
  std::ifstream in(o.input_path);
  if (!in) return absl::NotFoundError(absl::StrCat(o.input_path, ": cannot open the input"));
  std::error_code ec;
  fs::create_directories(o.output_dir, ec);
  if (ec) return absl::FailedPreconditionError(absl::StrCat(o.output_dir, ": cannot create: ", ec.message()));
  const std::string rejects_path = (fs::path(o.output_dir) / "rejects.jsonl").string();
  std::ofstream rejects(rejects_path, std::ios::trunc);
  if (!rejects) return absl::FailedPreconditionError(absl::StrCat(rejects_path, ": cannot write"));

  EvaluateSummary summary;
  auto reject = [&](int64_t line, const std::string& raw, const std::string& why) {
    std::cerr << o.input_path << ":" << line << ": " << why << "\n";
    rejects << DumpJson(json{{"line", line}, {"error", why}, {"raw", raw}}) << "\n";
    ++summary.rejected;
  };

  // Read every row; those with outcomes are evaluated, each id once.
  std::vector<EvaluationInputRow> rows;
  std::map<std::string, int64_t> first_line;
  JsonlReader reader(in);
  while (std::optional<JsonlRow> row = reader.Next()) {
    ++summary.input_rows;
    auto r = ReadRow(*row, o, *outcomes);
    if (!r.ok()) {
      reject(row->line, row->raw, std::string(r.status().message()));
      continue;
    }
    if (auto [it, added] = first_line.emplace(r->id, r->line); !added) {
      reject(r->line, r->raw, absl::StrCat("duplicate id '", r->id, "' (first on line ", it->second, ")"));
      continue;
    }
    if (!r->outcome) {
      ++summary.without_outcome;
      continue;
    }
    rows.push_back(*std::move(r));
  }

  // Score in batches; a prompt the source refuses is rejected with its own error.
  std::vector<EvaluationInputRow> scored_rows;
  std::vector<plugin::PromptFeatures> features;
  for (size_t start = 0; start < rows.size(); start += o.batch_rows) {
    const size_t end = std::min(rows.size(), start + static_cast<size_t>(o.batch_rows));
    std::vector<std::string> prompts;
    for (size_t i = start; i < end; ++i) prompts.push_back(rows[i].prompt);
    auto scored = source.Score(prompts);
    if (!scored.ok()) return scored.status();
    for (size_t i = start; i < end; ++i) {
      auto& f = (*scored)[i - start];
      if (!f.ok()) {
        reject(rows[i].line, rows[i].raw, std::string(f.status().message()));
        continue;
      }
      features.push_back(*std::move(f));
      scored_rows.push_back(std::move(rows[i]));
    }
    spdlog::info("scored {} of {} rows with outcomes", end, rows.size());
  }

  SignalData data;
  data.schema = source.schema();
  std::map<std::string, int> group_index;
  for (size_t i = 0; i < scored_rows.size(); ++i) {
    const EvaluationInputRow& r = scored_rows[i];
    data.ids.push_back(r.id);
    auto [it, added] = group_index.emplace(r.group, static_cast<int>(group_index.size()));
    data.group_of_row.push_back(it->second);
    data.successes.push_back(r.outcome->successes);
    data.trials.push_back(r.outcome->trials);
  }
  data.features = std::move(features);
  data.controls = BuildControls(scored_rows, o);
  if (group_index.size() < 2 * static_cast<size_t>(std::max(2, o.signal.folds)))
    return absl::FailedPreconditionError(absl::StrCat(o.input_path, ": ", scored_rows.size(), " scored rows with outcomes in ",
                                                      group_index.size(), " groups; need at least ",
                                                      2 * std::max(2, o.signal.folds), " groups to cross-fit"));
  auto evaluation = EvaluateSignal(data, o.signal);
  if (!evaluation.ok()) return evaluation.status();
  json& e = *evaluation;
  e["context"] = {{"title", absl::StrCat("sparsegate evaluate: ", o.input_path)},
                  {"model", source.Describe()},
                  {"generated_at", IsoTimeNow()},
                  {"input", o.input_path},
                  {"outcomes", o.outcomes_path},
                  {"group_field", o.fields.group.empty() ? "(each row its own group)" : o.fields.group}};
  if (o.signal.predictor) {
    plugin::PluginConfig config;
    config.predictor = *o.signal.predictor;
    e["context"]["predictor"] = plugin::PluginConfigToJson(config)["predictor"];
  }
  e["input_rows"] = {{"total", summary.input_rows}, {"rejected", summary.rejected},
                     {"without_outcome", summary.without_outcome}, {"evaluated", scored_rows.size()}};
  summary.json_path = (fs::path(o.output_dir) / "evaluation.json").string();
  summary.html_path = (fs::path(o.output_dir) / "evaluation.html").string();
  if (absl::Status s = plugin::WriteFileAtomically(summary.json_path, e.dump(1) + "\n"); !s.ok()) return s;
  if (absl::Status s = plugin::WriteFileAtomically(summary.html_path, RenderSignalHtml(e)); !s.ok()) return s;
  summary.evaluation = std::move(e);
  return summary;
}

}  // namespace sparsegate::offline

#include "trainer_plugin/state/plugin_checkpoint.h"

#include <limits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "difficulty_service/core/common/files.h"
#include "difficulty_service/core/common/json_parse.h"
#include "nlohmann/json.hpp"
#include "trainer_plugin/stable_hash.h"
#include "trainer_plugin/state/atomic_file.h"

namespace sparsegate::plugin {
namespace {

using json = nlohmann::json;

// ---------------------------------------------------------------------------------------------
// Writing. Optional values are null; enums are their names.

json ToJson(const EncodedPrompt& p) {
  json j = {{"metrics", p.metrics}, {"log_token_count", p.log_token_count}, {"hidden_projection", p.hidden_projection}};
  if (!p.model_digest.empty()) j["model_digest"] = p.model_digest;
  if (p.hint_fraction != 0) j["hint_fraction"] = p.hint_fraction;
  return j;
}

json ToJson(const ReferencePoint& r) { return json::array({r.log_token_count, r.metric}); }

json ToJson(const Prediction& p) {
  return {{"pass_rate", p.pass_rate}, {"source", std::string(PredictionSourceName(p.source))}};
}

template <typename T>
json OptionalToJson(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

json ToJson(const PredictorState& s) {
  json observations = json::array();
  for (const ObservedGroup& g : s.observations) {
    json o = ToJson(g.features);
    o["prompt_id"] = g.prompt_id;
    o["successes"] = g.successes;
    o["trials"] = g.trials;
    observations.push_back(std::move(o));
  }
  json seen = json::object();
  for (const auto& [id, point] : s.seen_reference) seen[id] = ToJson(point);
  json explicit_reference = nullptr;
  if (s.explicit_reference) {
    explicit_reference = json::array();
    for (const ReferencePoint& r : *s.explicit_reference) explicit_reference.push_back(ToJson(r));
  }
  json fit = nullptr;
  if (s.fit) {
    fit = {{"intercept", s.fit->model.intercept},
           {"weights", s.fit->model.weights},
           {"column_mean", s.fit->column_mean},
           {"column_scale", s.fit->column_scale},
           {"uses_hidden", s.fit->uses_hidden},
           {"uses_hint_fraction", s.fit->uses_hint_fraction}};
  }
  return {{"observations", std::move(observations)},
          {"seen_reference", std::move(seen)},
          {"explicit_reference", std::move(explicit_reference)},
          {"fit", std::move(fit)},
          {"supervised_active", s.supervised_active},
          {"calibration", s.calibration ? json{{"slope", s.calibration->slope}, {"intercept", s.calibration->intercept}}
                                        : json(nullptr)},
          {"observations_since_fit", s.observations_since_fit},
          {"total_observations", s.total_observations}};
}

json ToJson(const PromptHistory& h) {
  return {{"has_reference", h.has_reference},
          {"hint_level", h.hint_level},
          {"successes_at_level", h.successes_at_level},
          {"zero_groups_in_a_row", h.zero_groups_in_a_row},
          {"all_pass_groups_in_a_row", h.all_pass_groups_in_a_row},
          {"quarantined_until_epoch", OptionalToJson(h.quarantined_until_epoch)},
          {"deferred_until_epoch", OptionalToJson(h.deferred_until_epoch)},
          {"groups", h.groups},
          {"successes", h.successes},
          {"trials", h.trials},
          {"last_group_level", h.last_group_level},
          {"last_group_successes", h.last_group_successes},
          {"last_group_trials", h.last_group_trials},
          {"level_successes", h.level_successes},
          {"level_trials", h.level_trials},
          {"rung_evidence_successes", h.rung_evidence_successes},
          {"rung_evidence_trials", h.rung_evidence_trials},
          {"last_decision", h.last_decision ? json(std::string(DecisionKindName(*h.last_decision))) : json(nullptr)},
          {"last_decision_level", h.last_decision_level},
          {"last_prediction", h.last_prediction ? ToJson(*h.last_prediction) : json(nullptr)}};
}

json ToJson(const PolicyState& s) {
  json prompts = json::object();
  for (const auto& [id, history] : s.prompts) prompts[id] = ToJson(history);
  return {{"epoch", s.epoch},
          {"prompts", std::move(prompts)},
          {"rung_successes", s.rung_successes},
          {"rung_trials", s.rung_trials}};
}

json ToJson(const ForwardQuality& f) {
  json open = json::array();
  for (const ForwardOutcome& o : f.open) {
    open.push_back(json::array({o.predicted_pass_rate, o.expected_pass_rate, o.successes, o.trials}));
  }
  json closed = json::array();
  for (const QualityWindow& w : f.closed) {
    closed.push_back(
        {{"first_group", w.first_group}, {"predicted", QualityToJson(w.predicted)}, {"expected", QualityToJson(w.expected)}});
  }
  return {{"open", std::move(open)}, {"open_first_group", f.open_first_group}, {"closed", std::move(closed)}};
}

json ToJson(const PluginCounters& c) {
  json calibration = json::array();
  for (const CalibrationBin& b : c.calibration) {
    calibration.push_back({{"groups", b.groups}, {"predicted_sum", b.predicted_sum}, {"observed_sum", b.observed_sum}});
  }
  return {{"decisions", c.decisions},
          {"fail_open_decisions", c.fail_open_decisions},
          {"decisions_by_hint_level", c.decisions_by_hint_level},
          {"observed_groups", c.observed_groups},
          {"zero_pass_groups", c.zero_pass_groups},
          {"all_pass_groups", c.all_pass_groups},
          {"unknown_prompt_observations", c.unknown_prompt_observations},
          {"hints_shortened_to_fit", c.hints_shortened_to_fit},
          {"hints_withheld_to_fit", c.hints_withheld_to_fit},
          {"truncated_prompts", c.truncated_prompts},
          {"hint_variants_scored", c.hint_variants_scored},
          {"hint_variant_tokens", c.hint_variant_tokens},
          {"guided_groups", c.guided_groups},
          {"guided_zero_pass_groups", c.guided_zero_pass_groups},
          {"calibration", std::move(calibration)},
          {"forward", ToJson(c.forward)}};
}

json ToJson(const RolloutCostState& r) {
  json prompts = json::object();
  for (const auto& [id, cost] : r.prompts) prompts[id] = json::array({cost.weight, cost.mean_tokens});
  const LengthLine& l = r.line;
  return {{"prompts", std::move(prompts)}, {"line", json::array({l.n, l.sx, l.sy, l.sxx, l.sxy})}};
}

json StateToJson(const PluginCheckpoint& c) {
  json pending = json::object();
  for (const auto& [id, prompt] : c.pending) {
    pending[id] = ToJson(prompt.features);
    if (prompt.expected_pass_rate) pending[id]["expected_pass_rate"] = *prompt.expected_pass_rate;
  }
  return {{"schema", c.schema.columns},
          {"ladder_rungs", c.ladder_rungs},
          {"hidden_probe_dims", c.hidden_probe_dims},
          {"hidden_projection_seed", c.hidden_projection_seed},
          {"predictor", ToJson(c.predictor)},
          {"policy", ToJson(c.policy)},
          {"counters", ToJson(c.counters)},
          {"pending", std::move(pending)},
          {"rollout_cost", ToJson(c.rollout_cost)}};
}

std::string Checksum(const json& state) { return absl::StrFormat("fnv1a64:%016x", StableHash64(state.dump())); }

// ---------------------------------------------------------------------------------------------
// Reading. Every accessor checks the type it expects and throws FormatError naming the place in
// the state; ParseCheckpoint turns that into a Status. Exceptions stay inside this file.

struct FormatError {
  std::string where;
  std::string what;
};

const json& Field(const json& object, const char* key, const std::string& where) {
  if (!object.is_object()) throw FormatError{where, "is not an object"};
  auto it = object.find(key);
  if (it == object.end()) throw FormatError{where, absl::StrCat("has no field '", key, "'")};
  return *it;
}

std::string Join(const std::string& where, const char* key) { return absl::StrCat(where, ".", key); }

double GetDouble(const json& j, const std::string& where) {
  if (!j.is_number()) throw FormatError{where, "is not a number"};
  return j.get<double>();
}

float GetFloat(const json& j, const std::string& where) {
  const double v = GetDouble(j, where);
  if (!(v >= -std::numeric_limits<float>::max() && v <= std::numeric_limits<float>::max())) {
    throw FormatError{where, "is outside the float range"};
  }
  return static_cast<float>(v);
}

template <typename Int>
Int GetInt(const json& j, const std::string& where) {
  if (!j.is_number_integer()) throw FormatError{where, "is not an integer"};
  if (j.is_number_unsigned()) {
    const auto v = j.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<Int>::max())) throw FormatError{where, "is out of range"};
    return static_cast<Int>(v);
  }
  const auto v = j.get<int64_t>();
  if (v < static_cast<int64_t>(std::numeric_limits<Int>::min()) ||
      (v > 0 && static_cast<uint64_t>(v) > static_cast<uint64_t>(std::numeric_limits<Int>::max()))) {
    throw FormatError{where, "is out of range"};
  }
  return static_cast<Int>(v);
}

// Counts are validated, not only checksummed: a checkpoint re-sealed by hand, or written by a bug,
// with negative trials, successes above trials or a count near the int64 maximum would otherwise
// load and overflow on the next observe. 2^50 is beyond any training run and leaves the headroom.
constexpr int64_t kMaxCount = int64_t{1} << 50;

template <typename Int>
Int GetCount(const json& j, const std::string& where) {
  const Int v = GetInt<Int>(j, where);
  if (v < 0 || static_cast<int64_t>(v) > kMaxCount)
    throw FormatError{where, absl::StrCat("is ", v, ", outside [0, 2^50]: not a count")};
  return v;
}

// `part` (successes) may not exceed `whole` (trials).
template <typename Int>
void CheckAtMost(Int part, Int whole, const std::string& part_where, const char* whole_name) {
  if (part > whole) throw FormatError{part_where, absl::StrCat("is ", part, ", more than its ", whole_name, " (", whole, ")")};
}

bool GetBool(const json& j, const std::string& where) {
  if (!j.is_boolean()) throw FormatError{where, "is not true or false"};
  return j.get<bool>();
}

std::string GetString(const json& j, const std::string& where) {
  if (!j.is_string()) throw FormatError{where, "is not a string"};
  return j.get<std::string>();
}

const json& GetArray(const json& j, const std::string& where) {
  if (!j.is_array()) throw FormatError{where, "is not an array"};
  return j;
}

const json& GetObject(const json& j, const std::string& where) {
  if (!j.is_object()) throw FormatError{where, "is not an object"};
  return j;
}

template <typename T, typename Get>
std::vector<T> GetVector(const json& j, const std::string& where, Get get) {
  std::vector<T> out;
  const json& array = GetArray(j, where);
  out.reserve(array.size());
  for (size_t i = 0; i < array.size(); ++i) out.push_back(get(array[i], absl::StrCat(where, "[", i, "]")));
  return out;
}

std::vector<float> GetFloats(const json& j, const std::string& where) { return GetVector<float>(j, where, GetFloat); }
std::vector<double> GetDoubles(const json& j, const std::string& where) {
  return GetVector<double>(j, where, GetDouble);
}

template <typename T, typename Get>
std::optional<T> GetOptional(const json& j, const std::string& where, Get get) {
  if (j.is_null()) return std::nullopt;
  return get(j, where);
}

EncodedPrompt GetEncodedPrompt(const json& j, const std::string& where) {
  EncodedPrompt p;
  p.metrics = GetFloats(Field(j, "metrics", where), Join(where, "metrics"));
  p.log_token_count = GetDouble(Field(j, "log_token_count", where), Join(where, "log_token_count"));
  p.hidden_projection = GetFloats(Field(j, "hidden_projection", where), Join(where, "hidden_projection"));
  if (j.contains("model_digest")) {  // added within version 1, with the predictor that follows the policy
    p.model_digest = GetString(Field(j, "model_digest", where), Join(where, "model_digest"));
  }
  if (j.contains("hint_fraction")) {  // added within version 1: features of a hinted variant
    p.hint_fraction = GetDouble(j["hint_fraction"], Join(where, "hint_fraction"));
    if (!(p.hint_fraction >= 0 && p.hint_fraction <= 1))
      throw FormatError{Join(where, "hint_fraction"), absl::StrCat("is ", p.hint_fraction, ", outside [0, 1]")};
  }
  return p;
}

ReferencePoint GetReferencePoint(const json& j, const std::string& where) {
  if (!j.is_array() || j.size() != 2) throw FormatError{where, "is not a [log_token_count, metric] pair"};
  return {GetDouble(j[0], where + "[0]"), GetDouble(j[1], where + "[1]")};
}

Prediction GetPrediction(const json& j, const std::string& where) {
  Prediction p;
  p.pass_rate = GetDouble(Field(j, "pass_rate", where), Join(where, "pass_rate"));
  const std::string source = GetString(Field(j, "source", where), Join(where, "source"));
  if (source == PredictionSourceName(PredictionSource::kPrior)) {
    p.source = PredictionSource::kPrior;
  } else if (source == PredictionSourceName(PredictionSource::kSupervised)) {
    p.source = PredictionSource::kSupervised;
  } else {
    throw FormatError{Join(where, "source"), absl::StrCat("is '", source, "', not 'prior' or 'supervised'")};
  }
  return p;
}

DecisionKind GetDecisionKind(const json& j, const std::string& where) {
  const std::string name = GetString(j, where);
  for (int k = 0; k < kDecisionKindCount; ++k) {
    if (name == DecisionKindName(static_cast<DecisionKind>(k))) return static_cast<DecisionKind>(k);
  }
  throw FormatError{where, absl::StrCat("is '", name, "', not a decision kind")};
}

PredictorState GetPredictorState(const json& j, const std::string& where) {
  PredictorState s;
  const std::string obs_where = Join(where, "observations");
  const json& observations = GetArray(Field(j, "observations", where), obs_where);
  for (size_t i = 0; i < observations.size(); ++i) {
    const std::string w = absl::StrCat(obs_where, "[", i, "]");
    ObservedGroup g;
    g.features = GetEncodedPrompt(observations[i], w);
    g.prompt_id = GetString(Field(observations[i], "prompt_id", w), Join(w, "prompt_id"));
    g.successes = GetCount<int32_t>(Field(observations[i], "successes", w), Join(w, "successes"));
    g.trials = GetCount<int32_t>(Field(observations[i], "trials", w), Join(w, "trials"));
    if (g.trials == 0) throw FormatError{Join(w, "trials"), "is 0: an observed group has rollouts"};
    CheckAtMost(g.successes, g.trials, Join(w, "successes"), "trials");
    s.observations.push_back(std::move(g));
  }
  const std::string seen_where = Join(where, "seen_reference");
  for (const auto& [id, point] : GetObject(Field(j, "seen_reference", where), seen_where).items()) {
    s.seen_reference.emplace(id, GetReferencePoint(point, absl::StrCat(seen_where, "[\"", id, "\"]")));
  }
  const std::string ref_where = Join(where, "explicit_reference");
  const json& explicit_reference = Field(j, "explicit_reference", where);
  if (!explicit_reference.is_null()) {
    s.explicit_reference = GetVector<ReferencePoint>(explicit_reference, ref_where, GetReferencePoint);
  }
  const std::string fit_where = Join(where, "fit");
  const json& fit = Field(j, "fit", where);
  if (!fit.is_null()) {
    SupervisedFit f;
    f.model.intercept = GetDouble(Field(fit, "intercept", fit_where), Join(fit_where, "intercept"));
    f.model.weights = GetDoubles(Field(fit, "weights", fit_where), Join(fit_where, "weights"));
    f.column_mean = GetDoubles(Field(fit, "column_mean", fit_where), Join(fit_where, "column_mean"));
    f.column_scale = GetDoubles(Field(fit, "column_scale", fit_where), Join(fit_where, "column_scale"));
    f.uses_hidden = GetBool(Field(fit, "uses_hidden", fit_where), Join(fit_where, "uses_hidden"));
    if (fit.contains("uses_hint_fraction")) {  // added within version 1, with the hint column
      f.uses_hint_fraction = GetBool(fit["uses_hint_fraction"], Join(fit_where, "uses_hint_fraction"));
    }
    s.fit = std::move(f);
  }
  s.supervised_active = GetBool(Field(j, "supervised_active", where), Join(where, "supervised_active"));
  if (j.contains("calibration") && !j["calibration"].is_null()) {  // added within version 1
    const std::string w = Join(where, "calibration");
    PlattCalibration c;
    c.slope = GetDouble(Field(j["calibration"], "slope", w), Join(w, "slope"));
    c.intercept = GetDouble(Field(j["calibration"], "intercept", w), Join(w, "intercept"));
    if (!(c.slope > 0)) throw FormatError{Join(w, "slope"), absl::StrCat("is ", c.slope, "; a calibration's slope is positive")};
    s.calibration = c;
  }
  s.observations_since_fit =
      GetCount<int64_t>(Field(j, "observations_since_fit", where), Join(where, "observations_since_fit"));
  s.total_observations = GetCount<int64_t>(Field(j, "total_observations", where), Join(where, "total_observations"));
  return s;
}

PromptHistory GetPromptHistory(const json& j, const std::string& w) {
  PromptHistory h;
  auto i32 = [&](const char* key) { return GetCount<int32_t>(Field(j, key, w), Join(w, key)); };
  auto i64 = [&](const char* key) { return GetCount<int64_t>(Field(j, key, w), Join(w, key)); };
  h.has_reference = GetBool(Field(j, "has_reference", w), Join(w, "has_reference"));
  h.hint_level = i32("hint_level");
  h.successes_at_level = i32("successes_at_level");
  h.zero_groups_in_a_row = i32("zero_groups_in_a_row");
  h.all_pass_groups_in_a_row = i32("all_pass_groups_in_a_row");
  h.quarantined_until_epoch = GetOptional<int64_t>(Field(j, "quarantined_until_epoch", w),
                                                   Join(w, "quarantined_until_epoch"), GetInt<int64_t>);
  h.deferred_until_epoch =
      GetOptional<int64_t>(Field(j, "deferred_until_epoch", w), Join(w, "deferred_until_epoch"), GetInt<int64_t>);
  h.groups = i64("groups");
  h.successes = i64("successes");
  h.trials = i64("trials");
  h.last_group_level = i32("last_group_level");
  h.last_group_successes = i32("last_group_successes");
  h.last_group_trials = i32("last_group_trials");
  CheckAtMost(h.successes, h.trials, Join(w, "successes"), "trials");
  CheckAtMost(h.last_group_successes, h.last_group_trials, Join(w, "last_group_successes"), "last_group_trials");
  // Added within version 1: absent in checkpoints written before the expected pass rate had evidence.
  if (j.contains("level_trials")) {
    h.level_successes = GetDouble(Field(j, "level_successes", w), Join(w, "level_successes"));
    h.level_trials = GetDouble(Field(j, "level_trials", w), Join(w, "level_trials"));
    if (!(h.level_trials >= 0) || !(h.level_successes >= 0))
      throw FormatError{Join(w, "level_trials"), "or level_successes is negative"};
    CheckAtMost(h.level_successes, h.level_trials, Join(w, "level_successes"), "level_trials");
  }
  if (j.contains("rung_evidence_trials")) {  // added within version 1, with rungs chosen by prediction
    h.rung_evidence_successes = GetDoubles(Field(j, "rung_evidence_successes", w), Join(w, "rung_evidence_successes"));
    h.rung_evidence_trials = GetDoubles(Field(j, "rung_evidence_trials", w), Join(w, "rung_evidence_trials"));
    if (h.rung_evidence_successes.size() != h.rung_evidence_trials.size())
      throw FormatError{Join(w, "rung_evidence_successes"), "has another length than rung_evidence_trials"};
    for (size_t r = 0; r < h.rung_evidence_trials.size(); ++r) {
      const std::string at = absl::StrCat(Join(w, "rung_evidence_successes"), "[", r, "]");
      if (!(h.rung_evidence_successes[r] >= 0)) throw FormatError{at, "is negative"};
      CheckAtMost(h.rung_evidence_successes[r], h.rung_evidence_trials[r], at, "rung_evidence_trials");
    }
  }
  h.last_decision = GetOptional<DecisionKind>(Field(j, "last_decision", w), Join(w, "last_decision"), GetDecisionKind);
  h.last_decision_level = i32("last_decision_level");
  h.last_prediction = GetOptional<Prediction>(Field(j, "last_prediction", w), Join(w, "last_prediction"), GetPrediction);
  return h;
}

PolicyState GetPolicyState(const json& j, const std::string& where) {
  PolicyState s;
  s.epoch = GetCount<int64_t>(Field(j, "epoch", where), Join(where, "epoch"));
  const std::string prompts_where = Join(where, "prompts");
  for (const auto& [id, history] : GetObject(Field(j, "prompts", where), prompts_where).items()) {
    s.prompts.emplace(id, GetPromptHistory(history, absl::StrCat(prompts_where, "[\"", id, "\"]")));
  }
  if (j.contains("rung_trials")) {  // added within version 1, as level_trials
    s.rung_successes = GetVector<int64_t>(Field(j, "rung_successes", where), Join(where, "rung_successes"), GetCount<int64_t>);
    s.rung_trials = GetVector<int64_t>(Field(j, "rung_trials", where), Join(where, "rung_trials"), GetCount<int64_t>);
    if (s.rung_successes.size() != s.rung_trials.size())
      throw FormatError{Join(where, "rung_successes"), "has another length than rung_trials"};
    for (size_t r = 0; r < s.rung_trials.size(); ++r)
      CheckAtMost(s.rung_successes[r], s.rung_trials[r], absl::StrCat(Join(where, "rung_successes"), "[", r, "]"), "rung_trials");
  }
  return s;
}

double GetPassRate(const json& j, const std::string& where) {
  const double p = GetDouble(j, where);
  if (!(p >= 0 && p <= 1)) throw FormatError{where, absl::StrCat("is ", p, ", not a pass rate in [0, 1]")};
  return p;
}

QualitySummary GetQualitySummary(const json& j, const std::string& where) {
  QualitySummary q;
  q.groups = GetCount<int64_t>(Field(j, "groups", where), Join(where, "groups"));
  q.zero_pass_groups = GetCount<int64_t>(Field(j, "zero_pass_groups", where), Join(where, "zero_pass_groups"));
  CheckAtMost(q.zero_pass_groups, q.groups, Join(where, "zero_pass_groups"), "groups");
  q.zero_pass_auroc = GetOptional<double>(Field(j, "zero_pass_auroc", where), Join(where, "zero_pass_auroc"), GetPassRate);
  q.expected_calibration_error = GetOptional<double>(Field(j, "expected_calibration_error", where),
                                                     Join(where, "expected_calibration_error"), GetPassRate);
  q.mean_log_loss = GetOptional<double>(Field(j, "mean_log_loss", where), Join(where, "mean_log_loss"), GetDouble);
  q.mean_predicted_pass_rate =
      GetPassRate(Field(j, "mean_predicted_pass_rate", where), Join(where, "mean_predicted_pass_rate"));
  q.mean_observed_pass_rate =
      GetPassRate(Field(j, "mean_observed_pass_rate", where), Join(where, "mean_observed_pass_rate"));
  return q;
}

ForwardQuality GetForwardQuality(const json& j, const std::string& where) {
  ForwardQuality f;
  const std::string open_where = Join(where, "open");
  const json& open = GetArray(Field(j, "open", where), open_where);
  for (size_t i = 0; i < open.size(); ++i) {
    const std::string w = absl::StrCat(open_where, "[", i, "]");
    if (!open[i].is_array() || open[i].size() != 4)
      throw FormatError{w, "is not a [predicted, expected, successes, trials] list"};
    ForwardOutcome o{GetPassRate(open[i][0], w + "[0]"), GetPassRate(open[i][1], w + "[1]"),
                     GetCount<int32_t>(open[i][2], w + "[2]"), GetCount<int32_t>(open[i][3], w + "[3]")};
    if (o.trials == 0) throw FormatError{w + "[3]", "is 0: an observed group has rollouts"};
    CheckAtMost(o.successes, o.trials, w + "[2]", "trials");
    f.open.push_back(o);
  }
  f.open_first_group = GetCount<int64_t>(Field(j, "open_first_group", where), Join(where, "open_first_group"));
  const std::string closed_where = Join(where, "closed");
  const json& closed = GetArray(Field(j, "closed", where), closed_where);
  if (closed.size() > ForwardQuality::kMaxWindows)
    throw FormatError{closed_where, absl::StrCat("has ", closed.size(), " windows, more than ", ForwardQuality::kMaxWindows)};
  for (size_t i = 0; i < closed.size(); ++i) {
    const std::string w = absl::StrCat(closed_where, "[", i, "]");
    f.closed.push_back({GetCount<int64_t>(Field(closed[i], "first_group", w), Join(w, "first_group")),
                        GetQualitySummary(Field(closed[i], "predicted", w), Join(w, "predicted")),
                        GetQualitySummary(Field(closed[i], "expected", w), Join(w, "expected"))});
  }
  return f;
}

PluginCounters GetCounters(const json& j, const std::string& where) {
  PluginCounters c;
  const std::string decisions_where = Join(where, "decisions");
  const std::vector<int64_t> decisions =
      GetVector<int64_t>(Field(j, "decisions", where), decisions_where, GetCount<int64_t>);
  if (decisions.size() != c.decisions.size()) {
    throw FormatError{decisions_where, absl::StrCat("has ", decisions.size(), " entries, not ", c.decisions.size())};
  }
  std::copy(decisions.begin(), decisions.end(), c.decisions.begin());
  c.fail_open_decisions = GetCount<int64_t>(Field(j, "fail_open_decisions", where), Join(where, "fail_open_decisions"));
  c.decisions_by_hint_level = GetVector<int64_t>(Field(j, "decisions_by_hint_level", where),
                                                 Join(where, "decisions_by_hint_level"), GetCount<int64_t>);
  c.observed_groups = GetCount<int64_t>(Field(j, "observed_groups", where), Join(where, "observed_groups"));
  c.zero_pass_groups = GetCount<int64_t>(Field(j, "zero_pass_groups", where), Join(where, "zero_pass_groups"));
  c.all_pass_groups = GetCount<int64_t>(Field(j, "all_pass_groups", where), Join(where, "all_pass_groups"));
  c.unknown_prompt_observations =
      GetCount<int64_t>(Field(j, "unknown_prompt_observations", where), Join(where, "unknown_prompt_observations"));
  if (j.contains("hints_withheld_to_fit")) {  // added within version 1, with the prompt-length budget
    c.hints_shortened_to_fit =
        GetCount<int64_t>(Field(j, "hints_shortened_to_fit", where), Join(where, "hints_shortened_to_fit"));
    c.hints_withheld_to_fit =
        GetCount<int64_t>(Field(j, "hints_withheld_to_fit", where), Join(where, "hints_withheld_to_fit"));
  }
  if (j.contains("truncated_prompts")) {  // added within version 1, with explicit truncation
    c.truncated_prompts = GetCount<int64_t>(Field(j, "truncated_prompts", where), Join(where, "truncated_prompts"));
  }
  // Added within version 1, with rungs chosen by prediction.
  for (auto [key, counter] : {std::pair{"hint_variants_scored", &c.hint_variants_scored},
                              std::pair{"hint_variant_tokens", &c.hint_variant_tokens},
                              std::pair{"guided_groups", &c.guided_groups},
                              std::pair{"guided_zero_pass_groups", &c.guided_zero_pass_groups}}) {
    if (j.contains(key)) *counter = GetCount<int64_t>(Field(j, key, where), Join(where, key));
  }
  CheckAtMost(c.guided_zero_pass_groups, c.guided_groups, Join(where, "guided_zero_pass_groups"), "guided_groups");
  const std::string cal_where = Join(where, "calibration");
  const json& calibration = GetArray(Field(j, "calibration", where), cal_where);
  if (calibration.size() != c.calibration.size()) {
    throw FormatError{cal_where, absl::StrCat("has ", calibration.size(), " bins, not ", c.calibration.size())};
  }
  for (size_t b = 0; b < c.calibration.size(); ++b) {
    const std::string w = absl::StrCat(cal_where, "[", b, "]");
    c.calibration[b].groups = GetCount<int64_t>(Field(calibration[b], "groups", w), Join(w, "groups"));
    c.calibration[b].predicted_sum = GetDouble(Field(calibration[b], "predicted_sum", w), Join(w, "predicted_sum"));
    c.calibration[b].observed_sum = GetDouble(Field(calibration[b], "observed_sum", w), Join(w, "observed_sum"));
  }
  if (j.contains("forward")) c.forward = GetForwardQuality(j["forward"], Join(where, "forward"));  // added within version 1
  return c;
}

RolloutCostState GetRolloutCost(const json& j, const std::string& where) {
  RolloutCostState r;
  const std::string prompts_where = Join(where, "prompts");
  for (const auto& [id, cost] : GetObject(Field(j, "prompts", where), prompts_where).items()) {
    const std::string w = absl::StrCat(prompts_where, "[\"", id, "\"]");
    if (!cost.is_array() || cost.size() != 2) throw FormatError{w, "is not a [weight, mean_tokens] pair"};
    const PromptCost c{GetDouble(cost[0], w + "[0]"), GetDouble(cost[1], w + "[1]")};
    if (!(c.weight > 0) || !(c.mean_tokens >= 1)) throw FormatError{w, "has a weight <= 0 or a mean below one token"};
    r.prompts.emplace(id, c);
  }
  const std::string line_where = Join(where, "line");
  const json& line = Field(j, "line", where);
  if (!line.is_array() || line.size() != 5) throw FormatError{line_where, "is not [n, sx, sy, sxx, sxy]"};
  r.line = {GetDouble(line[0], line_where + "[0]"), GetDouble(line[1], line_where + "[1]"),
            GetDouble(line[2], line_where + "[2]"), GetDouble(line[3], line_where + "[3]"),
            GetDouble(line[4], line_where + "[4]")};
  if (!(r.line.n >= 0) || !(r.line.sxx >= 0)) throw FormatError{line_where, "has a negative count or square sum"};
  return r;
}

PluginCheckpoint GetCheckpoint(const json& j) {
  const std::string where = "state";
  PluginCheckpoint c;
  c.schema.columns = GetVector<std::string>(Field(j, "schema", where), Join(where, "schema"), GetString);
  c.ladder_rungs = GetCount<int32_t>(Field(j, "ladder_rungs", where), Join(where, "ladder_rungs"));
  c.hidden_probe_dims = GetInt<int32_t>(Field(j, "hidden_probe_dims", where), Join(where, "hidden_probe_dims"));
  c.hidden_projection_seed =
      GetInt<uint64_t>(Field(j, "hidden_projection_seed", where), Join(where, "hidden_projection_seed"));
  c.predictor = GetPredictorState(Field(j, "predictor", where), Join(where, "predictor"));
  c.policy = GetPolicyState(Field(j, "policy", where), Join(where, "policy"));
  // Hint levels index the ladder: one past it would read past the reference solution's rungs.
  for (const auto& [id, h] : c.policy.prompts) {
    for (auto [name, level] : {std::pair<const char*, int32_t>{"hint_level", h.hint_level},
                               {"last_group_level", h.last_group_level},
                               {"last_decision_level", h.last_decision_level}}) {
      if (level > c.ladder_rungs)
        throw FormatError{absl::StrCat(where, ".policy.prompts[\"", id, "\"].", name),
                          absl::StrCat("is ", level, ", past the ladder's ", c.ladder_rungs, " rungs")};
    }
  }
  if (c.policy.rung_trials.size() > static_cast<size_t>(c.ladder_rungs) + 1)
    throw FormatError{Join(where, "policy.rung_trials"), absl::StrCat("has more entries than the ladder's ", c.ladder_rungs, " rungs")};
  c.counters = GetCounters(Field(j, "counters", where), Join(where, "counters"));
  const std::string pending_where = Join(where, "pending");
  for (const auto& [id, prompt] : GetObject(Field(j, "pending", where), pending_where).items()) {
    const std::string w = absl::StrCat(pending_where, "[\"", id, "\"]");
    PendingDecision pending{GetEncodedPrompt(prompt, w), std::nullopt};
    if (prompt.contains("expected_pass_rate")) {  // added within version 1, with the forward quality
      pending.expected_pass_rate = GetDouble(prompt["expected_pass_rate"], Join(w, "expected_pass_rate"));
    }
    c.pending.emplace(id, std::move(pending));
  }
  if (j.contains("rollout_cost")) {  // added within version 1, with the signal_per_token rule
    c.rollout_cost = GetRolloutCost(j["rollout_cost"], Join(where, "rollout_cost"));
  }
  return c;
}

}  // namespace

std::string SerializeCheckpoint(const PluginCheckpoint& checkpoint) {
  json state = StateToJson(checkpoint);
  json document = {{"format", std::string(kCheckpointFormat)},
                   {"version", kCheckpointVersion},
                   {"checksum", Checksum(state)},
                   {"state", std::move(state)}};
  return document.dump() + "\n";
}

absl::StatusOr<PluginCheckpoint> ParseCheckpoint(std::string_view text, const std::string& source) {
  absl::StatusOr<json> parsed = ParseJson(text);
  if (!parsed.ok()) {
    return absl::DataLossError(absl::StrCat("checkpoint ", source, " is not valid JSON (truncated or corrupt?): ",
                                            parsed.status().message()));
  }
  json document = *std::move(parsed);
  if (!document.is_object() || !document.contains("format") || document["format"] != kCheckpointFormat) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint ", source, " is not a sparsegate trainer plugin checkpoint (no \"format\": \"",
                     kCheckpointFormat, "\")"));
  }
  if (!document.contains("version") || !document["version"].is_number_integer()) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint ", source, " has no integer \"version\""));
  }
  const auto version = document["version"].get<int64_t>();
  if (version != kCheckpointVersion) {
    return absl::FailedPreconditionError(absl::StrCat("checkpoint ", source, " has format version ", version,
                                                      "; this build reads version ", kCheckpointVersion));
  }
  if (!document.contains("state") || !document.contains("checksum") || !document["checksum"].is_string()) {
    return absl::DataLossError(absl::StrCat("checkpoint ", source, " lacks \"state\" or \"checksum\""));
  }
  const std::string expected = document["checksum"].get<std::string>();
  const std::string actual = Checksum(document["state"]);
  if (expected != actual) {
    return absl::DataLossError(absl::StrCat("checkpoint ", source, " fails its checksum (file says ", expected,
                                            ", content gives ", actual, "): it was modified or corrupted"));
  }
  try {
    return GetCheckpoint(document["state"]);
  } catch (const FormatError& e) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint ", source, ": ", e.where, " ", e.what));
  }
}

absl::Status SaveCheckpoint(const std::string& path, const PluginCheckpoint& checkpoint) {
  absl::Status status = WriteFileAtomically(path, SerializeCheckpoint(checkpoint));
  if (!status.ok()) return absl::Status(status.code(), absl::StrCat("saving checkpoint: ", status.message()));
  return absl::OkStatus();
}

absl::StatusOr<PluginCheckpoint> LoadCheckpoint(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return absl::Status(text.status().code(), absl::StrCat("loading checkpoint: ", text.status().message()));
  }
  return ParseCheckpoint(*text, path);
}

}  // namespace sparsegate::plugin

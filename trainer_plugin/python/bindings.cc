// sparsegate._core: the trainer plugin for Python trainers, built from the same C++ as the C++ API.
//
// What it binds, and the Python contract of each:
//   FeatureSchema, PromptFeatures   the plain types the service's results are flattened into
//   PluginConfig(**knobs)           the policy, predictor and hint settings, flat keyword arguments
//   TrainerPlugin                   decide / observe / begin_epoch / save / load / stats, no network
//   ClientOptions(**fields)         the gRPC client's settings
//   DifficultyClient                scores prompts with the difficulty service, fails open per prompt
//   Gate                            client + plugin (+ tokenizer): what a trainer adapter calls
//   Decision                        one prompt's decision, with kind as "keep" / "guide" / "drop" / "defer"
//
// Prompts go in as dicts {"id": str|int, "text": str, "ids": [int], "reference": str|None}; unknown
// keys are refused, so a misspelt "refernce" cannot silently turn guidance off.
//
// Errors: an absl::Status that is not OK becomes a Python exception carrying its message:
// INVALID_ARGUMENT -> ValueError, NOT_FOUND -> FileNotFoundError, anything else -> RuntimeError
// (prefixed with the code's name). The status travels as a C++ exception and is translated by
// pybind11 with the GIL held, because most calls throw from code that runs without it.
//
// The GIL is released around everything that may wait or compute for long: network calls (score,
// wait_for_service, Gate.decide) and plugin calls that may refit the predictor (decide).
#include <pybind11/chrono.h>
#include <pybind11/operators.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <chrono>
#include <cmath>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "trainer_plugin/client/difficulty_client.h"
#include "trainer_plugin/features.h"
#include "trainer_plugin/gate.h"
#include "trainer_plugin/plugin.h"

namespace py = pybind11;

namespace sparsegate::plugin {
namespace {

// ---------------------------------------------------------------------------------------------
// Errors

class StatusError : public std::exception {
 public:
  explicit StatusError(absl::Status status) : status_(std::move(status)), what_(status_.ToString()) {}
  const absl::Status& status() const { return status_; }
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  absl::Status status_;
  std::string what_;
};

void Check(const absl::Status& status) {
  if (!status.ok()) throw StatusError(status);
}

template <typename T>
T Value(absl::StatusOr<T> value) {
  Check(value.status());
  return *std::move(value);
}

void TranslateStatusError(std::exception_ptr error) {
  try {
    if (error) std::rethrow_exception(error);
  } catch (const StatusError& e) {
    const absl::Status& s = e.status();
    const std::string message(s.message());
    switch (s.code()) {
      case absl::StatusCode::kInvalidArgument:
        PyErr_SetString(PyExc_ValueError, message.c_str());
        return;
      case absl::StatusCode::kNotFound:
        PyErr_SetString(PyExc_FileNotFoundError, message.c_str());
        return;
      default:
        PyErr_SetString(PyExc_RuntimeError, (absl::StatusCodeToString(s.code()) + ": " + message).c_str());
        return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Conversions

py::object JsonToPython(const nlohmann::json& j) {
  switch (j.type()) {
    case nlohmann::json::value_t::null:
      return py::none();
    case nlohmann::json::value_t::boolean:
      return py::bool_(j.get<bool>());
    case nlohmann::json::value_t::number_integer:
      return py::int_(j.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return py::int_(j.get<uint64_t>());
    case nlohmann::json::value_t::number_float:
      return py::float_(j.get<double>());
    case nlohmann::json::value_t::string:
      return py::str(j.get_ref<const std::string&>());
    case nlohmann::json::value_t::array: {
      py::list list;
      for (const nlohmann::json& item : j) list.append(JsonToPython(item));
      return list;
    }
    case nlohmann::json::value_t::object: {
      py::dict dict;
      for (auto it = j.begin(); it != j.end(); ++it) dict[py::str(it.key())] = JsonToPython(it.value());
      return dict;
    }
    default:
      return py::none();
  }
}

py::dict ClientStatsToPython(const ClientStats& s) {
  py::dict d;
  d["calls"] = s.calls;
  d["failed_calls"] = s.failed_calls;
  d["prompts_scored"] = s.prompts_scored;
  d["prompts_failed_open"] = s.prompts_failed_open;
  d["last_error"] = s.last_error;
  return d;
}

std::string PathString(const std::filesystem::path& path) { return path.string(); }

// A prompt as the caller wrote it: a dict with known keys only.
struct PromptDict {
  std::string id;
  std::optional<std::string> text;
  std::vector<int32_t> ids;
  std::optional<std::string> reference;
};

std::string StringField(py::handle value, size_t index, const char* key) {
  if (!py::isinstance<py::str>(value)) {
    throw py::type_error("prompt " + std::to_string(index) + ": '" + key + "' must be a str or None, got " +
                         std::string(py::str(py::type::of(value).attr("__name__"))));
  }
  return value.cast<std::string>();
}

PromptDict ParsePrompt(py::handle item, size_t index, bool ids_allowed) {
  if (!py::isinstance<py::dict>(item)) {
    throw py::type_error("prompt " + std::to_string(index) + ": expected a dict with 'id' and 'text'" +
                         (ids_allowed ? " or 'ids'" : "") + ", got " + std::string(py::str(py::type::of(item))));
  }
  PromptDict p;
  bool has_id = false;
  for (auto [key_handle, value] : py::reinterpret_borrow<py::dict>(item)) {
    const std::string key = py::str(key_handle);
    if (key == "id") {
      // Integer ids (a dataset's row index) are accepted and used as their decimal string.
      if (py::isinstance<py::str>(value) || py::isinstance<py::int_>(value)) {
        p.id = py::str(value);
        has_id = true;
      } else {
        throw py::type_error("prompt " + std::to_string(index) + ": 'id' must be a str or an int");
      }
    } else if (key == "text") {
      if (!value.is_none()) p.text = StringField(value, index, "text");
    } else if (key == "ids" && ids_allowed) {
      if (value.is_none()) continue;
      try {
        p.ids = value.cast<std::vector<int32_t>>();
      } catch (const py::cast_error&) {
        throw py::type_error("prompt " + std::to_string(index) + ": 'ids' must be a sequence of token ids");
      }
    } else if (key == "reference") {
      if (!value.is_none()) p.reference = StringField(value, index, "reference");
    } else {
      throw py::value_error("prompt " + std::to_string(index) + ": unknown key '" + key + "' (expected id, text" +
                            (ids_allowed ? ", ids" : "") + ", reference)");
    }
  }
  if (!has_id) throw py::value_error("prompt " + std::to_string(index) + ": no 'id'");
  if (!p.text && p.ids.empty()) {
    throw py::value_error("prompt " + std::to_string(index) + ": needs 'text'" + (ids_allowed ? " or 'ids'" : ""));
  }
  return p;
}

std::vector<PromptInfo> ParsePromptInfos(const py::sequence& prompts) {
  std::vector<PromptInfo> batch;
  batch.reserve(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    PromptDict p = ParsePrompt(prompts[i], i, /*ids_allowed=*/false);
    batch.push_back(PromptInfo{std::move(p.id), std::move(*p.text), std::move(p.reference)});
  }
  return batch;
}

std::vector<GatePrompt> ParseGatePrompts(const py::sequence& prompts) {
  std::vector<GatePrompt> batch;
  batch.reserve(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) {
    PromptDict p = ParsePrompt(prompts[i], i, /*ids_allowed=*/true);
    GatePrompt g;
    g.id = std::move(p.id);
    g.text = p.text.value_or("");
    g.ids = std::move(p.ids);
    g.reference_solution = std::move(p.reference);
    batch.push_back(std::move(g));
  }
  return batch;
}

// ---------------------------------------------------------------------------------------------
// Decision: one flat, read-only Python object for both the plugin's and the gate's decisions.

struct PyDecision {
  std::string prompt_id;
  std::string kind;
  int32_t hint_level = 0;
  double hint_fraction = 0;
  std::string prompt_text;
  std::string hint_text;
  std::string hint_boundary;
  std::vector<int32_t> prompt_ids;
  std::optional<double> predicted_pass_rate;
  std::optional<std::string> source;
  bool fail_open = false;
  std::string reason;

  bool rolled_out() const { return kind == "keep" || kind == "guide"; }
};

PyDecision ToPyDecision(const Decision& d, std::vector<int32_t> prompt_ids = {}) {
  PyDecision p;
  p.prompt_id = d.prompt_id;
  p.kind = std::string(DecisionKindName(d.kind));
  p.hint_level = d.hint_level;
  p.hint_fraction = d.hint_fraction;
  p.prompt_text = d.prompt_text;
  p.hint_text = d.hint_text;
  p.hint_boundary = std::string(CutBoundaryName(d.hint_boundary));
  p.prompt_ids = std::move(prompt_ids);
  if (d.prediction) {
    p.predicted_pass_rate = d.prediction->pass_rate;
    p.source = std::string(PredictionSourceName(d.prediction->source));
  }
  p.fail_open = d.fail_open;
  p.reason = d.reason;
  return p;
}

std::vector<PyDecision> ToPyDecisions(const std::vector<Decision>& decisions) {
  std::vector<PyDecision> out;
  out.reserve(decisions.size());
  for (const Decision& d : decisions) out.push_back(ToPyDecision(d));
  return out;
}

std::string Repr(const PyDecision& d) {
  std::ostringstream out;
  out << "Decision(id=" << std::string(py::repr(py::str(d.prompt_id))) << ", kind='" << d.kind << "'";
  if (d.kind == "guide") out << ", hint_level=" << d.hint_level << " (" << d.hint_fraction << ")";
  if (d.predicted_pass_rate) {
    out << ", predicted_pass_rate=" << *d.predicted_pass_rate << " [" << *d.source << "]";
  } else {
    out << ", predicted_pass_rate=None";
  }
  if (d.fail_open) out << ", fail_open=True";
  out << ", reason=" << std::string(py::repr(py::str(d.reason))) << ")";
  return out.str();
}

py::dict ToDict(const PyDecision& d) {
  py::dict out;
  out["prompt_id"] = d.prompt_id;
  out["kind"] = d.kind;
  out["hint_level"] = d.hint_level;
  out["hint_fraction"] = d.hint_fraction;
  out["prompt_text"] = d.prompt_text;
  out["hint_text"] = d.hint_text;
  out["hint_boundary"] = d.hint_boundary;
  out["prompt_ids"] = d.prompt_ids;
  out["predicted_pass_rate"] = d.predicted_pass_rate;
  out["source"] = d.source;
  out["fail_open"] = d.fail_open;
  out["reason"] = d.reason;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Keyword-argument construction for the option structs: each keyword must name a property of the
// class, and is assigned through it, so the conversions and checks live in one place.

bool HasProperty(py::handle type, const std::string& name) {
  if (name.empty() || name[0] == '_' || !py::hasattr(type, name.c_str())) return false;
  return py::isinstance(type.attr(name.c_str()), py::module_::import("builtins").attr("property"));
}

template <typename T>
void Assign(T& value, const py::kwargs& kwargs) {
  py::object self = py::cast(&value, py::return_value_policy::reference);
  py::handle type = py::type::of(self);
  for (auto [key_handle, v] : kwargs) {
    const std::string key = py::str(key_handle);
    if (!HasProperty(type, key)) {
      throw py::type_error(std::string(py::str(type.attr("__name__"))) + "() got an unexpected keyword argument '" +
                           key + "'");
    }
    self.attr(key.c_str()) = v;
  }
}

template <typename T>
std::unique_ptr<T> FromKwargs(const py::kwargs& kwargs) {
  auto value = std::make_unique<T>();
  Assign(*value, kwargs);
  return value;
}

// A read-write property reaching into a nested field: `access` returns a reference to it.
template <typename C, typename Access>
void Field(py::class_<C>& cls, const char* name, Access access, const char* doc) {
  using T = std::remove_reference_t<decltype(access(std::declval<C&>()))>;
  cls.def_property(
      name, [access](C& c) -> T { return access(c); }, [access](C& c, const T& v) { access(c) = v; }, doc);
}

// Enum-like settings are strings in Python.
FailOpenMode ParseFailOpen(const std::string& s) {
  if (s == "keep") return FailOpenMode::kKeep;
  if (s == "last_known") return FailOpenMode::kLastKnown;
  throw py::value_error("fail_open must be 'keep' or 'last_known', got '" + s + "'");
}

std::string FailOpenName(FailOpenMode m) { return m == FailOpenMode::kKeep ? "keep" : "last_known"; }

PriorDirection ParseDirection(const std::string& s) {
  if (s == "higher_is_harder") return PriorDirection::kHigherIsHarder;
  if (s == "lower_is_harder") return PriorDirection::kLowerIsHarder;
  throw py::value_error("prior_direction must be 'higher_is_harder' or 'lower_is_harder', got '" + s + "'");
}

std::string DirectionName(PriorDirection d) {
  return d == PriorDirection::kHigherIsHarder ? "higher_is_harder" : "lower_is_harder";
}

std::string PlacementName(const HintTemplate& t) {
  if (t.block == HintTemplate::Default().block) return "default";
  if (t.block == HintTemplate::Ghpo().block) return "ghpo";
  return "custom";
}

void BindConfig(py::module_& m) {
  py::class_<PluginConfig> cls(m, "PluginConfig", R"doc(
The plugin's settings as keyword arguments; every keyword is also an attribute. Defaults are the
C++ defaults (trainer_plugin/policy/policy.h and predictor/predictor.h document their reasons).

    PluginConfig(hint_ladder=[0.25, 0.5, 0.75], fail_open="last_known", enable_defer=True,
                 hint_placement="ghpo")
)doc");
  cls.def(py::init(&FromKwargs<PluginConfig>));
  // Policy.
  Field(cls, "hint_ladder", [](PluginConfig& c) -> auto& { return c.policy.hint_ladder; },
        "Fractions of the reference solution shown at rungs 1..n, increasing, each in (0, 1].");
  Field(cls, "start_rung_below", [](PluginConfig& c) -> auto& { return c.policy.start_rung_below; },
        "Predicted pass rates below which a new prompt starts at rung 1, 2, ... (one per rung, decreasing).");
  Field(cls, "success_threshold", [](PluginConfig& c) -> auto& { return c.policy.success_threshold; },
        "A rollout succeeds when its reward >= this (GHPO counts any reward > 0).");
  Field(cls, "step_down_after_successes", [](PluginConfig& c) -> auto& { return c.policy.step_down_after_successes; },
        "Groups in a row with a success before the hint steps down one rung.");
  Field(cls, "quarantine_epochs", [](PluginConfig& c) -> auto& { return c.policy.quarantine_epochs; },
        "Epochs a prompt is dropped after failing at the top rung, before it is re-checked.");
  Field(cls, "no_reference_quarantine_after",
        [](PluginConfig& c) -> auto& { return c.policy.no_reference_quarantine_after; },
        "Groups in a row with no success before a prompt without a reference is quarantined.");
  Field(cls, "drop_below", [](PluginConfig& c) -> auto& { return c.policy.drop_below; },
        "Predicted pass rate below which a prompt without a reference is dropped before rollout.");
  Field(cls, "enable_defer", [](PluginConfig& c) -> auto& { return c.policy.enable_defer; },
        "Defer prompts predicted or observed to be trivially easy (off by default).");
  Field(cls, "defer_above", [](PluginConfig& c) -> auto& { return c.policy.defer_above; },
        "Predicted pass rate above which a prompt is deferred (when enable_defer).");
  Field(cls, "defer_after_all_pass_groups", [](PluginConfig& c) -> auto& { return c.policy.defer_after_all_pass_groups; },
        "Unhinted all-pass groups in a row before a prompt is deferred (when enable_defer).");
  Field(cls, "defer_epochs", [](PluginConfig& c) -> auto& { return c.policy.defer_epochs; },
        "Epochs a deferred prompt is skipped.");
  Field(cls, "prior_may_drop_or_defer", [](PluginConfig& c) -> auto& { return c.policy.prior_may_drop_or_defer; },
        "Let the unsupervised prior's prediction drop or defer a prompt (it only guides by default).");
  cls.def_property(
      "fail_open", [](const PluginConfig& c) { return FailOpenName(c.policy.fail_open); },
      [](PluginConfig& c, const std::string& s) { c.policy.fail_open = ParseFailOpen(s); },
      "Without features: 'keep' (always KEEP) or 'last_known' (decide from the prompt's history).");
  // Predictor.
  Field(cls, "min_training_groups", [](PluginConfig& c) -> auto& { return c.predictor.min_training_groups; },
        "Observed groups before the supervised model may take over from the prior.");
  Field(cls, "min_holdout_groups", [](PluginConfig& c) -> auto& { return c.predictor.min_holdout_groups; },
        "Held-out groups needed to compare the supervised model with the prior.");
  Field(cls, "holdout_modulus", [](PluginConfig& c) -> auto& { return c.predictor.holdout_modulus; },
        "One prompt in this many is held out for evaluation; 0 disables the holdout.");
  Field(cls, "l2_metrics", [](PluginConfig& c) -> auto& { return c.predictor.l2_metrics; },
        "L2 penalty on the metric weights, in units of groups.");
  Field(cls, "l2_hidden", [](PluginConfig& c) -> auto& { return c.predictor.l2_hidden; },
        "L2 penalty on the hidden-vector probe's weights, in units of groups.");
  Field(cls, "hidden_probe_dims", [](PluginConfig& c) -> auto& { return c.predictor.hidden_probe_dims; },
        "Columns of the hidden-vector projection; 0 disables the probe.");
  Field(cls, "hidden_excluded_channels", [](PluginConfig& c) -> auto& { return c.predictor.hidden_excluded_channels; },
        "Hidden channels left out of the probe (massive-activation channels).");
  Field(cls, "max_observations", [](PluginConfig& c) -> auto& { return c.predictor.max_observations; },
        "Sliding window of observed groups the predictor keeps and fits on.");
  Field(cls, "prior_metric_column", [](PluginConfig& c) -> auto& { return c.predictor.prior.metric_column; },
        "Schema column the unsupervised prior reads; empty: the first '...top10_energy' column.");
  cls.def_property(
      "prior_direction", [](const PluginConfig& c) { return DirectionName(c.predictor.prior.direction); },
      [](PluginConfig& c, const std::string& s) { c.predictor.prior.direction = ParseDirection(s); },
      "'higher_is_harder' or 'lower_is_harder': how the prior reads its metric (a guess until outcomes arrive).");
  Field(cls, "prior_length_bins", [](PluginConfig& c) -> auto& { return c.predictor.prior.length_bins; },
        "Length bins within which the prior ranks prompts.");
  Field(cls, "prior_min_prompts_per_bin", [](PluginConfig& c) -> auto& { return c.predictor.prior.min_prompts_per_bin; },
        "Fewer bins are used when a bin would hold fewer reference prompts than this.");
  Field(cls, "prior_easiest_pass_rate", [](PluginConfig& c) -> auto& { return c.predictor.prior.easiest_pass_rate; },
        "Pass rate the prior gives its easiest percentile.");
  Field(cls, "prior_hardest_pass_rate", [](PluginConfig& c) -> auto& { return c.predictor.prior.hardest_pass_rate; },
        "Pass rate the prior gives its hardest percentile.");
  // Hints.
  cls.def_property(
      "hint_placement", [](const PluginConfig& c) { return PlacementName(c.hint_template); },
      [](PluginConfig& c, const std::string& s) {
        if (s == "default") {
          c.hint_template = HintTemplate::Default();
        } else if (s == "ghpo") {
          c.hint_template = HintTemplate::Ghpo();
        } else {
          throw py::value_error("hint_placement must be 'default' or 'ghpo' (or set hint_template), got '" + s + "'");
        }
      },
      "'default' (this project's wording) or 'ghpo' (GHPO's wording, appended to the user message); "
      "'custom' when hint_template was set.");
  Field(cls, "hint_template", [](PluginConfig& c) -> auto& { return c.hint_template.block; },
        "The hint block appended to the prompt, with one '{hint}' placeholder.");
  Field(cls, "hint_min_kept_share", [](PluginConfig& c) -> auto& { return c.hint_cut.min_kept_share; },
        "A hint is cut back to a step boundary no earlier than this share of its target length.");
  Field(cls, "hint_math_overshoot_share", [](PluginConfig& c) -> auto& { return c.hint_cut.math_overshoot_share; },
        "How far past the target a cut may move to finish a LaTeX math span, as a share of the solution.");
  cls.def("__repr__", [](py::object self) {
    std::ostringstream out;
    out << "PluginConfig(";
    const char* keys[] = {"hint_ladder", "success_threshold", "quarantine_epochs", "fail_open", "enable_defer",
                          "min_training_groups", "hint_placement"};
    for (size_t i = 0; i < std::size(keys); ++i) {
      out << (i ? ", " : "") << keys[i] << "=" << std::string(py::repr(self.attr(keys[i])));
    }
    out << ")";
    return out.str();
  });
}

// A duration property: reads as datetime.timedelta, accepts a timedelta or a number of seconds.
void Duration(py::class_<ClientOptions>& cls, const char* name, std::chrono::milliseconds ClientOptions::*field,
              const char* doc) {
  cls.def_property(
      name, [field](const ClientOptions& o) { return o.*field; },
      [field, name](ClientOptions& o, py::object value) {
        if (py::isinstance(value, py::module_::import("datetime").attr("timedelta"))) {
          o.*field = std::chrono::duration_cast<std::chrono::milliseconds>(
              value.cast<std::chrono::duration<double>>());
          return;
        }
        double seconds;
        try {
          seconds = value.cast<double>();
        } catch (const py::cast_error&) {
          throw py::type_error(std::string(name) + " must be a number of seconds or a datetime.timedelta");
        }
        if (!std::isfinite(seconds) || seconds < 0) {
          throw py::value_error(std::string(name) + " must be finite and >= 0");
        }
        o.*field = std::chrono::milliseconds(static_cast<int64_t>(std::llround(seconds * 1000)));
      },
      doc);
}

void BindClientOptions(py::module_& m) {
  py::class_<ClientOptions> cls(m, "ClientOptions", R"doc(
The difficulty client's settings as keyword arguments; every keyword is also an attribute.
Durations accept seconds (float) or datetime.timedelta.

    ClientOptions(target="ipv4:10.0.0.1:50051,10.0.0.2:50051", layers=[-1, -4], deadline=10.0)
)doc");
  cls.def(py::init(&FromKwargs<ClientOptions>));
  cls.def_readwrite("target", &ClientOptions::target, "A gRPC target: host:port, ipv4:a:p,b:p, or dns:///name:port.");
  cls.def_readwrite("layers", &ClientOptions::layers, "Hidden-state indices to request (negative from the end).");
  cls.def_readwrite("poolings", &ClientOptions::poolings, "Poolings to request: 'last_token', 'mean'.");
  cls.def_readwrite("return_hidden", &ClientOptions::return_hidden, "Request the pooled hidden vector (for the probe).");
  cls.def_readwrite("exclude_detected_outliers", &ClientOptions::exclude_detected_outliers,
                    "Leave out the service's detected massive-activation channels.");
  cls.def_readwrite("apply_chat_template", &ClientOptions::apply_chat_template,
                    "Score text wrapped in the model's chat template as one user message.");
  cls.def_readwrite("truncate_left", &ClientOptions::truncate_left,
                    "Score a prompt over the service's token limit on its end rather than failing it.");
  cls.def_readwrite("max_prompts_per_call", &ClientOptions::max_prompts_per_call, "Prompts per Score call.");
  Duration(cls, "deadline", &ClientOptions::deadline, "Per Score call, retries included.");
  cls.def_readwrite("max_attempts", &ClientOptions::max_attempts, "Attempts per call on UNAVAILABLE / RESOURCE_EXHAUSTED.");
  Duration(cls, "initial_backoff", &ClientOptions::initial_backoff, "First retry backoff.");
  Duration(cls, "max_backoff", &ClientOptions::max_backoff, "Largest retry backoff.");
  cls.def("__repr__", [](const ClientOptions& o) {
    return "ClientOptions(target=" + std::string(py::repr(py::str(o.target))) + ", layers=" +
           std::string(py::repr(py::cast(o.layers))) + ", poolings=" + std::string(py::repr(py::cast(o.poolings))) +
           ", deadline=" + std::to_string(o.deadline.count() / 1000.0) + "s)";
  });
}

// ---------------------------------------------------------------------------------------------

void BindTypes(py::module_& m) {
  py::class_<FeatureSchema>(m, "FeatureSchema", "Names the columns of PromptFeatures.metrics.")
      .def(py::init([](std::vector<std::string> columns) {
             FeatureSchema schema{std::move(columns)};
             Check(ValidateSchema(schema));
             return schema;
           }),
           py::arg("columns"))
      .def_static("for_feature_sets", &FeatureSchema::ForFeatureSets, py::arg("labels"),
                  "One column per (label, metric): '<label>/<metric>', e.g. labels ['layer-1/last_token'].")
      .def_readonly("columns", &FeatureSchema::columns)
      .def("index_of", &FeatureSchema::IndexOf, py::arg("column"))
      .def("__len__", &FeatureSchema::size)
      .def(py::self == py::self)
      .def("__repr__", [](const FeatureSchema& s) {
        return "FeatureSchema(" + std::to_string(s.size()) + " columns" +
               (s.columns.empty() ? std::string() : ", first " + std::string(py::repr(py::str(s.columns[0])))) + ")";
      });
  m.def("sparsity_metric_names", &SparsityMetricNames, "The service's 14 metric names, in proto field order.");

  py::class_<PromptFeatures>(m, "PromptFeatures",
                             "What the service returned for one prompt; empty metrics mean none (fail-open).")
      .def(py::init([](std::vector<float> metrics, int32_t token_count, std::vector<float> hidden) {
             PromptFeatures f;
             f.metrics = std::move(metrics);
             f.token_count = token_count;
             f.hidden = std::move(hidden);
             return f;
           }),
           py::arg("metrics") = std::vector<float>{}, py::arg("token_count") = 0,
           py::arg("hidden") = std::vector<float>{})
      .def_readwrite("metrics", &PromptFeatures::metrics)
      .def_readwrite("token_count", &PromptFeatures::token_count)
      .def_readwrite("hidden", &PromptFeatures::hidden)
      .def("empty", &PromptFeatures::empty)
      .def("__bool__", [](const PromptFeatures& f) { return !f.empty(); })
      .def("__repr__", [](const PromptFeatures& f) {
        if (f.empty()) return std::string("PromptFeatures(empty)");
        return "PromptFeatures(" + std::to_string(f.metrics.size()) + " metrics, token_count=" +
               std::to_string(f.token_count) + (f.hidden.empty() ? "" : ", hidden=" + std::to_string(f.hidden.size())) +
               ")";
      });

  py::class_<PyDecision>(m, "Decision", "One prompt's decision. kind: 'keep', 'guide', 'drop' or 'defer'.")
      .def_readonly("prompt_id", &PyDecision::prompt_id)
      .def_readonly("kind", &PyDecision::kind)
      .def_readonly("hint_level", &PyDecision::hint_level, "The ladder rung, 0 unless 'guide'.")
      .def_readonly("hint_fraction", &PyDecision::hint_fraction, "Share of the reference shown, 0 unless 'guide'.")
      .def_readonly("prompt_text", &PyDecision::prompt_text,
                    "What to roll out: the prompt plus hint_text when 'guide', the prompt as given otherwise.")
      .def_readonly("hint_text", &PyDecision::hint_text, "The hint block alone; prompt_text == prompt + hint_text.")
      .def_readonly("hint_boundary", &PyDecision::hint_boundary, "Where the reference was cut.")
      .def_readonly("prompt_ids", &PyDecision::prompt_ids,
                    "For a prompt given to a Gate as ids: its ids, followed by the hint's when guided (which "
                    "needs the Gate's tokenizer_path); empty for prompts given as text.")
      .def_readonly("predicted_pass_rate", &PyDecision::predicted_pass_rate, "None when decided without features.")
      .def_readonly("source", &PyDecision::source, "'prior' or 'supervised'; None without a prediction.")
      .def_readonly("fail_open", &PyDecision::fail_open, "Decided without features.")
      .def_readonly("reason", &PyDecision::reason)
      .def_property_readonly("rolled_out", &PyDecision::rolled_out, "True for 'keep' and 'guide'.")
      .def("to_dict", &ToDict)
      .def("__repr__", &Repr);
}

void BindPlugin(py::module_& m) {
  py::class_<TrainerPlugin>(m, "TrainerPlugin", R"doc(
Decides per prompt before rollout and learns from each group's rewards after it (no network).

    plugin = TrainerPlugin.create(FeatureSchema.for_feature_sets(["layer-1/last_token"]), PluginConfig())
    decisions = plugin.decide([{"id": "q1", "text": "...", "reference": "..."}], [features])
    plugin.observe("q1", [0.0] * 8)
)doc")
      .def_static(
          "create",
          [](FeatureSchema schema, const PluginConfig* config) {  // None arrives as nullptr
            PluginConfig c;
            if (config) c = *config;
            return Value(TrainerPlugin::Create(std::move(schema), std::move(c)));
          },
          py::arg("schema"), py::arg("config") = py::none())
      .def(
          "set_prior_reference",
          [](TrainerPlugin& p, const std::vector<PromptFeatures>& reference) { Check(p.SetPriorReference(reference)); },
          py::arg("reference"), py::call_guard<py::gil_scoped_release>(),
          "Features of a sample of the training set, for the unsupervised prior's percentiles.")
      .def(
          "decide",
          [](TrainerPlugin& p, const py::sequence& prompts, const std::vector<std::optional<PromptFeatures>>& features) {
            std::vector<PromptInfo> batch = ParsePromptInfos(prompts);
            std::vector<PromptFeatures> plain;
            plain.reserve(features.size());
            for (const auto& f : features) plain.push_back(f.value_or(PromptFeatures{}));
            std::vector<Decision> decisions;
            {
              py::gil_scoped_release release;
              decisions = Value(p.Decide(batch, plain));
            }
            return ToPyDecisions(decisions);
          },
          py::arg("prompts"), py::arg("features"),
          "One Decision per prompt, in order; features[i] None or empty means no features (fail-open).")
      .def(
          "decide_without_features",
          [](TrainerPlugin& p, const py::sequence& prompts) {
            return ToPyDecisions(p.DecideWithoutFeatures(ParsePromptInfos(prompts)));
          },
          py::arg("prompts"), "Fail-open for a whole batch: counted in stats()['fail_open_decisions'].")
      .def(
          "observe",
          [](TrainerPlugin& p, const std::string& prompt_id, const std::vector<double>& rewards) {
            Check(p.Observe(prompt_id, rewards));
          },
          py::arg("prompt_id"), py::arg("rewards"), py::call_guard<py::gil_scoped_release>(),
          "The rewards of one prompt's rollouts, each in [0, 1].")
      .def(
          "begin_epoch", [](TrainerPlugin& p, int64_t epoch) { Check(p.BeginEpoch(epoch)); }, py::arg("epoch"),
          py::call_guard<py::gil_scoped_release>())
      .def(
          "save", [](const TrainerPlugin& p, const std::filesystem::path& path) { Check(p.Save(PathString(path))); },
          py::arg("path"), py::call_guard<py::gil_scoped_release>(), "Writes one checkpoint file, atomically.")
      .def(
          "load", [](TrainerPlugin& p, const std::filesystem::path& path) { Check(p.Load(PathString(path))); },
          py::arg("path"), py::call_guard<py::gil_scoped_release>(),
          "All or nothing: on any error the plugin keeps its state.")
      .def("stats", [](const TrainerPlugin& p) { return JsonToPython(p.StatsJson()); })
      .def_property_readonly("schema", [](const TrainerPlugin& p) { return p.schema(); })
      .def_property_readonly("config", [](const TrainerPlugin& p) { return p.config(); });
}

void BindClient(py::module_& m) {
  py::class_<DifficultyClient>(m, "DifficultyClient", R"doc(
Scores prompts with the difficulty service. Never fails as a whole: a prompt that could not be
scored in time comes back as empty PromptFeatures and is counted in stats().
)doc")
      .def_static(
          "create",
          [](const ClientOptions* options, const py::kwargs& kwargs) {  // None arrives as nullptr
            ClientOptions o;
            if (options) o = *options;
            Assign(o, kwargs);
            return Value(DifficultyClient::Create(o));
          },
          py::arg("options") = py::none(), "create(options=None, **fields): fields as in ClientOptions.")
      .def(
          "score",
          [](DifficultyClient& c, const py::sequence& prompts) {
            std::vector<ScoreInput> inputs;
            inputs.reserve(prompts.size());
            for (size_t i = 0; i < prompts.size(); ++i) {
              py::handle item = prompts[i];
              ScoreInput in;
              if (py::isinstance<py::str>(item)) {
                in.text = item.cast<std::string>();
              } else {
                try {
                  in.ids = item.cast<std::vector<int32_t>>();
                } catch (const py::cast_error&) {
                  throw py::type_error("prompt " + std::to_string(i) + ": expected a str or a list of token ids");
                }
                if (in.ids.empty()) throw py::value_error("prompt " + std::to_string(i) + ": no token ids");
              }
              inputs.push_back(std::move(in));
            }
            py::gil_scoped_release release;
            return c.Score(inputs);
          },
          py::arg("prompts"), "Features per prompt (text or token ids), in order; empty where it failed open.")
      .def("stats", [](const DifficultyClient& c) { return ClientStatsToPython(c.stats()); })
      .def_property_readonly("schema", [](const DifficultyClient& c) { return c.schema(); })
      .def_property_readonly("model_digest", &DifficultyClient::model_digest)
      .def(
          "wait_for_service",
          [](DifficultyClient& c, double seconds) {
            const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(std::llround(seconds * 1000)));
            return Value(c.WaitForService(timeout));
          },
          py::arg("seconds"), py::call_guard<py::gil_scoped_release>(),
          "Waits up to `seconds` for a replica to answer; returns the model it serves.");
}

void BindGate(py::module_& m) {
  py::class_<Gate>(m, "Gate", R"doc(
The whole plugin as a trainer uses it: score a batch with the service, decide per prompt, learn
from the rewards afterwards.

    gate = Gate.create(target="localhost:50051", hint_ladder=[0.25, 0.5, 0.75])
    decisions = gate.decide([{"id": "q1", "text": "...", "reference": "..."}])
    gate.observe("q1", rewards)

create() takes ClientOptions and PluginConfig fields as flat keywords, or whole objects as
client= and config=, and tokenizer_path= (a tokenizer.json or model directory) to get hinted
prompts back as token ids for prompts given as ids.
)doc")
      .def_static(
          "create",
          [](const py::kwargs& kwargs) {
            GateOptions options;
            py::kwargs client_fields, plugin_fields;
            py::handle client_type = py::type::of<ClientOptions>();
            py::handle plugin_type = py::type::of<PluginConfig>();
            for (auto [key_handle, value] : kwargs) {
              const std::string key = py::str(key_handle);
              if (key == "client") {
                options.client = value.cast<ClientOptions>();
              } else if (key == "config") {
                options.plugin = value.cast<PluginConfig>();
              } else if (key == "tokenizer_path") {
                options.tokenizer_path =
                    value.is_none() ? std::string() : PathString(value.cast<std::filesystem::path>());
              } else if (HasProperty(client_type, key)) {
                client_fields[key_handle] = value;
              } else if (HasProperty(plugin_type, key)) {
                plugin_fields[key_handle] = value;
              } else {
                throw py::type_error("Gate.create() got an unexpected keyword argument '" + key + "'");
              }
            }
            // Flat fields apply on top of whole objects, whatever the keyword order.
            Assign(options.client, client_fields);
            Assign(options.plugin, plugin_fields);
            py::gil_scoped_release release;
            return Value(Gate::Create(options));
          })
      .def(
          "decide",
          [](Gate& g, const py::sequence& prompts) {
            std::vector<GatePrompt> batch = ParseGatePrompts(prompts);
            std::vector<GatedDecision> gated;
            {
              py::gil_scoped_release release;
              gated = Value(g.Decide(batch));
            }
            std::vector<PyDecision> out;
            out.reserve(gated.size());
            for (GatedDecision& d : gated) out.push_back(ToPyDecision(d.decision, std::move(d.prompt_ids)));
            return out;
          },
          py::arg("prompts"),
          "One Decision per prompt {'id', 'text' | 'ids', 'reference'}, in order. Prompts the service could not "
          "score are decided fail-open.")
      .def(
          "observe",
          [](Gate& g, const std::string& prompt_id, const std::vector<double>& rewards) {
            Check(g.Observe(prompt_id, rewards));
          },
          py::arg("prompt_id"), py::arg("rewards"), py::call_guard<py::gil_scoped_release>(),
          "The rewards of one prompt's rollouts, each in [0, 1].")
      .def(
          "begin_epoch", [](Gate& g, int64_t epoch) { Check(g.BeginEpoch(epoch)); }, py::arg("epoch"),
          py::call_guard<py::gil_scoped_release>())
      .def(
          "save", [](const Gate& g, const std::filesystem::path& path) { Check(g.Save(PathString(path))); },
          py::arg("path"), py::call_guard<py::gil_scoped_release>())
      .def(
          "load", [](Gate& g, const std::filesystem::path& path) { Check(g.Load(PathString(path))); }, py::arg("path"),
          py::call_guard<py::gil_scoped_release>())
      .def(
          "wait_for_service",
          [](Gate& g, double seconds) {
            const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(std::llround(seconds * 1000)));
            return Value(g.client().WaitForService(timeout));
          },
          py::arg("seconds"), py::call_guard<py::gil_scoped_release>())
      .def(
          "stats",
          [](Gate& g) {
            py::dict stats = JsonToPython(g.plugin().StatsJson());
            stats["client"] = ClientStatsToPython(g.client().stats());
            stats["model_digest"] = g.client().model_digest();
            return stats;
          },
          "The plugin's stats, plus 'client' (the service calls) and 'model_digest'.")
      .def_property_readonly(
          "plugin", [](Gate& g) -> TrainerPlugin& { return g.plugin(); }, py::return_value_policy::reference_internal)
      .def_property_readonly(
          "client", [](Gate& g) -> DifficultyClient& { return g.client(); },
          py::return_value_policy::reference_internal);
}

}  // namespace
}  // namespace sparsegate::plugin

PYBIND11_MODULE(_core, m) {
  using namespace sparsegate::plugin;
  m.doc() = "sparsegate's trainer plugin, bound from C++ (see the sparsegate package for the adapters).";
  m.attr("__version__") = SPARSEGATE_VERSION_STRING;
  py::register_exception_translator(&TranslateStatusError);
  BindTypes(m);
  BindConfig(m);
  BindClientOptions(m);
  BindPlugin(m);
  BindClient(m);
  BindGate(m);
}

// The option structs: PluginConfig and ClientOptions, each built from flat keyword arguments where
// every keyword is also a read-write attribute.
//
// PluginConfig's Python fields are one table, kConfigFields: the name, how the field is bound and
// its doc. The table makes the properties; the keyword arguments (PluginConfig(**knobs) and
// Gate.create's flat fields) are checked and assigned through those properties; __repr__ shows
// the rows marked for it, in table order.
#include <pybind11/chrono.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>

#include "trainer_plugin/client/difficulty_client.h"
#include "trainer_plugin/plugin.h"
#include "trainer_plugin/python/bindings.h"

namespace sparsegate::plugin::python {

bool HasProperty(py::handle type, const std::string& name) {
  if (name.empty() || name[0] == '_' || !py::hasattr(type, name.c_str())) return false;
  return py::isinstance(type.attr(name.c_str()), py::module_::import("builtins").attr("property"));
}

namespace {

using ConfigClass = py::class_<PluginConfig>;

// ---------------------------------------------------------------------------------------------
// How a row is bound. A plain field is reached from PluginConfig through a path of member
// pointers; an enum-like one is a string in Python, through a getter and a setter.

template <auto... Path>
void BindMember(ConfigClass& cls, const char* name, const char* doc) {
  using T = std::remove_cv_t<std::remove_reference_t<decltype((std::declval<PluginConfig&>() .* ... .* Path))>>;
  cls.def_property(
      name, [](PluginConfig& c) -> T { return (c .* ... .* Path); },
      [](PluginConfig& c, const T& v) { (c .* ... .* Path) = v; }, doc);
}

template <auto Member>
constexpr auto kPolicy = &BindMember<&PluginConfig::policy, Member>;
template <auto Member>
constexpr auto kPredictor = &BindMember<&PluginConfig::predictor, Member>;
template <auto Member>
constexpr auto kPrior = &BindMember<&PluginConfig::predictor, &PredictorConfig::prior, Member>;
template <auto Member>
constexpr auto kHintCut = &BindMember<&PluginConfig::hint_cut, Member>;

template <auto Get, auto Set>
void BindNamed(ConfigClass& cls, const char* name, const char* doc) {
  cls.def_property(name, Get, Set, doc);
}

std::string GetFailOpen(const PluginConfig& c) {
  return c.policy.fail_open == FailOpenMode::kKeep ? "keep" : "last_known";
}

void SetFailOpen(PluginConfig& c, const std::string& s) {
  if (s == "keep") {
    c.policy.fail_open = FailOpenMode::kKeep;
  } else if (s == "last_known") {
    c.policy.fail_open = FailOpenMode::kLastKnown;
  } else {
    throw py::value_error("fail_open must be 'keep' or 'last_known', got '" + s + "'");
  }
}

std::string GetDirection(const PluginConfig& c) {
  return c.predictor.prior.direction == PriorDirection::kHigherIsHarder ? "higher_is_harder" : "lower_is_harder";
}

void SetDirection(PluginConfig& c, const std::string& s) {
  if (s == "higher_is_harder") {
    c.predictor.prior.direction = PriorDirection::kHigherIsHarder;
  } else if (s == "lower_is_harder") {
    c.predictor.prior.direction = PriorDirection::kLowerIsHarder;
  } else {
    throw py::value_error("prior_direction must be 'higher_is_harder' or 'lower_is_harder', got '" + s + "'");
  }
}

std::string GetPlacement(const PluginConfig& c) {
  if (c.hint_template.block == HintTemplate::Default().block) return "default";
  if (c.hint_template.block == HintTemplate::Ghpo().block) return "ghpo";
  return "custom";
}

void SetPlacement(PluginConfig& c, const std::string& s) {
  if (s == "default") {
    c.hint_template = HintTemplate::Default();
  } else if (s == "ghpo") {
    c.hint_template = HintTemplate::Ghpo();
  } else {
    throw py::value_error("hint_placement must be 'default' or 'ghpo' (or set hint_template), got '" + s + "'");
  }
}

// ---------------------------------------------------------------------------------------------
// The table.

struct ConfigField {
  const char* name;
  void (*bind)(ConfigClass& cls, const char* name, const char* doc);
  const char* doc;
  bool in_repr;
};

constexpr bool kInRepr = true;

const ConfigField kConfigFields[] = {
    // Policy.
    {"hint_ladder", kPolicy<&PolicyConfig::hint_ladder>,
     "Fractions of the reference solution shown at rungs 1..n, increasing, each in (0, 1].", kInRepr},
    {"start_rung_below", kPolicy<&PolicyConfig::start_rung_below>,
     "Predicted pass rates below which a new prompt starts at rung 1, 2, ... (one per rung, decreasing).", false},
    {"success_threshold", kPolicy<&PolicyConfig::success_threshold>,
     "A rollout succeeds when its reward >= this (GHPO counts any reward > 0).", kInRepr},
    {"step_down_after_successes", kPolicy<&PolicyConfig::step_down_after_successes>,
     "Groups in a row with a success before the hint steps down one rung.", false},
    {"quarantine_epochs", kPolicy<&PolicyConfig::quarantine_epochs>,
     "Epochs a prompt is dropped after failing at the top rung, before it is re-checked.", kInRepr},
    {"no_reference_quarantine_after", kPolicy<&PolicyConfig::no_reference_quarantine_after>,
     "Groups in a row with no success before a prompt without a reference is quarantined.", false},
    {"drop_below", kPolicy<&PolicyConfig::drop_below>,
     "Predicted pass rate below which a prompt without a reference is dropped before rollout.", false},
    {"fail_open", &BindNamed<&GetFailOpen, &SetFailOpen>,
     "Without features: 'keep' (always KEEP) or 'last_known' (decide from the prompt's history).", kInRepr},
    {"enable_defer", kPolicy<&PolicyConfig::enable_defer>,
     "Defer prompts predicted or observed to be trivially easy (off by default).", kInRepr},
    {"defer_above", kPolicy<&PolicyConfig::defer_above>,
     "Predicted pass rate above which a prompt is deferred (when enable_defer).", false},
    {"defer_after_all_pass_groups", kPolicy<&PolicyConfig::defer_after_all_pass_groups>,
     "Unhinted all-pass groups in a row before a prompt is deferred (when enable_defer).", false},
    {"defer_epochs", kPolicy<&PolicyConfig::defer_epochs>, "Epochs a deferred prompt is skipped.", false},
    {"prior_may_drop_or_defer", kPolicy<&PolicyConfig::prior_may_drop_or_defer>,
     "Let the unsupervised prior's prediction drop or defer a prompt (it only guides by default).", false},
    {"expectation_prior_rollouts", kPolicy<&PolicyConfig::expectation_prior_rollouts>,
     "Weight, in rollouts, of the prior in a decision's expected pass rate (what select() ranks by).", false},
    {"expectation_decay", kPolicy<&PolicyConfig::expectation_decay>,
     "Factor by which each newer group at a rung weighs a prompt's older groups in its expected pass rate.", false},
    {"expectation_prior_by_quality", kPolicy<&PolicyConfig::expectation_prior_by_quality>,
     "Weigh the prior of pass_rate_posterior by the predictor's held-out quality (2 x AUROC - 1, at least 1/8).",
     false},
    {"rungs_by_prediction", kPolicy<&PolicyConfig::rungs_by_prediction>,
     "Choose each guided prompt's rung from its hinted variants, scored in the same call: the smallest rung whose "
     "expected pass rate is in [rung_band_low, rung_band_high] (the Gate scores the variants; off by default).",
     kInRepr},
    {"rung_band_low", kPolicy<&PolicyConfig::rung_band_low>,
     "Lower end of the band of expected pass rates a rung chosen by prediction aims at.", false},
    {"rung_band_high", kPolicy<&PolicyConfig::rung_band_high>,
     "Upper end of the band of expected pass rates a rung chosen by prediction aims at.", false},
    // Predictor.
    {"min_training_groups", kPredictor<&PredictorConfig::min_training_groups>,
     "Observed groups before the supervised model may take over from the prior.", kInRepr},
    {"min_holdout_groups", kPredictor<&PredictorConfig::min_holdout_groups>,
     "Held-out groups needed to compare the supervised model with the prior.", false},
    {"holdout_modulus", kPredictor<&PredictorConfig::holdout_modulus>,
     "One prompt in this many is held out for evaluation; 0 disables the holdout.", false},
    {"l2_metrics", kPredictor<&PredictorConfig::l2_metrics>, "L2 penalty on the metric weights, in units of groups.",
     false},
    {"l2_hidden", kPredictor<&PredictorConfig::l2_hidden>,
     "L2 penalty on the hidden-vector probe's weights, in units of groups.", false},
    {"hidden_probe_dims", kPredictor<&PredictorConfig::hidden_probe_dims>,
     "Columns of the hidden-vector projection; 0 disables the probe.", false},
    {"hidden_excluded_channels", kPredictor<&PredictorConfig::hidden_excluded_channels>,
     "Hidden channels left out of the probe (massive-activation channels).", false},
    {"max_observations", kPredictor<&PredictorConfig::max_observations>,
     "Sliding window of observed groups the predictor keeps and fits on.", false},
    {"recency_half_life_groups", kPredictor<&PredictorConfig::recency_half_life_groups>,
     "Within the window, a group's weight in the fits halves every this many newer groups; 0: all alike.", false},
    {"recalibrate", kPredictor<&PredictorConfig::recalibrate>,
     "Platt-recalibrate the active model on the recent held-out groups (predictions follow the policy's level).",
     false},
    {"recalibration_groups", kPredictor<&PredictorConfig::recalibration_groups>,
     "The most recent held-out groups the recalibration is fitted on.", false},
    {"quality_window_groups", kPredictor<&PredictorConfig::quality_window_groups>,
     "Unhinted groups per window of the forward quality in stats()['forward_quality'].", false},
    {"length_only", kPredictor<&PredictorConfig::length_only>,
     "A baseline predictor that reads only the prompt's length (no metrics, no probe).", kInRepr},
    {"prior_metric_column", kPrior<&PriorConfig::metric_column>,
     "Schema column the unsupervised prior reads; empty: the first '...top10_energy' column.", false},
    {"prior_direction", &BindNamed<&GetDirection, &SetDirection>,
     "'higher_is_harder' or 'lower_is_harder': how the prior reads its metric (a guess until outcomes arrive).",
     false},
    {"prior_length_bins", kPrior<&PriorConfig::length_bins>, "Length bins within which the prior ranks prompts.",
     false},
    {"prior_min_prompts_per_bin", kPrior<&PriorConfig::min_prompts_per_bin>,
     "Fewer bins are used when a bin would hold fewer reference prompts than this.", false},
    {"prior_easiest_pass_rate", kPrior<&PriorConfig::easiest_pass_rate>,
     "Pass rate the prior gives its easiest percentile.", false},
    {"prior_hardest_pass_rate", kPrior<&PriorConfig::hardest_pass_rate>,
     "Pass rate the prior gives its hardest percentile.", false},
    // Hints.
    {"hint_placement", &BindNamed<&GetPlacement, &SetPlacement>,
     "'default' (this project's wording) or 'ghpo' (GHPO's wording, appended to the user message); "
     "'custom' when hint_template was set.",
     kInRepr},
    {"hint_template", &BindMember<&PluginConfig::hint_template, &HintTemplate::block>,
     "The hint block appended to the prompt, with one '{hint}' placeholder.", false},
    {"hint_min_kept_share", kHintCut<&HintCutOptions::min_kept_share>,
     "A hint is cut back to a step boundary no earlier than this share of its target length.", false},
    {"hint_math_overshoot_share", kHintCut<&HintCutOptions::math_overshoot_share>,
     "How far past the target a cut may move to finish a LaTeX math span, as a share of the solution.", false},
};

void BindPluginConfig(py::module_& m) {
  ConfigClass cls(m, "PluginConfig", R"doc(
The plugin's settings as keyword arguments; every keyword is also an attribute. Defaults are the
C++ defaults (trainer_plugin/policy/policy.h and predictor/predictor.h document their reasons).

    PluginConfig(hint_ladder=[0.25, 0.5, 0.75], fail_open="last_known", enable_defer=True,
                 hint_placement="ghpo")
)doc");
  cls.def(py::init(&FromKwargs<PluginConfig>));
  for (const ConfigField& field : kConfigFields) field.bind(cls, field.name, field.doc);
  cls.def("__repr__", [](py::object self) {
    std::ostringstream out;
    out << "PluginConfig(";
    const char* separator = "";
    for (const ConfigField& field : kConfigFields) {
      if (!field.in_repr) continue;
      out << separator << field.name << "=" << std::string(py::repr(self.attr(field.name)));
      separator = ", ";
    }
    out << ")";
    return out.str();
  });
}

// ---------------------------------------------------------------------------------------------
// ClientOptions.

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
  cls.def_readwrite("max_attempts", &ClientOptions::max_attempts, "Attempts per call on UNAVAILABLE / RESOURCE_EXHAUSTED / a replica's CANCELLED.");
  Duration(cls, "initial_backoff", &ClientOptions::initial_backoff, "First retry backoff.");
  Duration(cls, "max_backoff", &ClientOptions::max_backoff, "Largest retry backoff.");
  cls.def_readwrite("tls", &ClientOptions::tls, "Connect over TLS (implied by any tls_* file).");
  cls.def_readwrite("tls_ca_file", &ClientOptions::tls_ca_file,
                    "PEM roots that verify the server's certificate (empty: the system's roots).");
  cls.def_readwrite("tls_cert_file", &ClientOptions::tls_cert_file, "PEM client certificate, for mutual TLS.");
  cls.def_readwrite("tls_key_file", &ClientOptions::tls_key_file, "PEM private key of tls_cert_file.");
  cls.def_readwrite("tls_server_name", &ClientOptions::tls_server_name,
                    "Name the server's certificate must carry, when it is not the target's host.");
  cls.def_readwrite("auth_token", &ClientOptions::auth_token, "Bearer token sent with every call.");
  cls.def_readwrite("auth_token_file", &ClientOptions::auth_token_file, "File whose first line is the bearer token.");
  cls.def("__repr__", [](const ClientOptions& o) {
    return "ClientOptions(target=" + std::string(py::repr(py::str(o.target))) + ", layers=" +
           std::string(py::repr(py::cast(o.layers))) + ", poolings=" + std::string(py::repr(py::cast(o.poolings))) +
           ", deadline=" + std::to_string(o.deadline.count() / 1000.0) + "s)";
  });
}

}  // namespace

void BindConfig(py::module_& m) {
  BindPluginConfig(m);
  BindClientOptions(m);
}

}  // namespace sparsegate::plugin::python

// The plain types: FeatureSchema (the column names), PromptFeatures (one prompt's service result)
// and Decision (read-only, flattened from the plugin's or the gate's decision).
#include <pybind11/operators.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "trainer_plugin/features.h"
#include "trainer_plugin/plugin.h"
#include "trainer_plugin/python/bindings.h"

namespace sparsegate::plugin::python {

PyDecision ToPyDecision(const Decision& d, std::vector<int32_t> prompt_ids) {
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
  p.model_digest = d.model_digest;
  p.expected_pass_rate = d.expected_pass_rate;
  if (d.pass_rate_posterior) p.pass_rate_posterior = std::pair(d.pass_rate_posterior->alpha, d.pass_rate_posterior->beta);
  p.expected_completion_tokens = d.expected_completion_tokens;
  p.recommended_group_size = d.recommended_group_size;
  p.rung_pass_rates = d.rung_pass_rates;
  return p;
}

std::vector<PyDecision> ToPyDecisions(const std::vector<Decision>& decisions) {
  std::vector<PyDecision> out;
  out.reserve(decisions.size());
  for (const Decision& d : decisions) out.push_back(ToPyDecision(d));
  return out;
}

namespace {

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

// Decision's attributes, one row each: the read-only property and its entry in to_dict().
struct DecisionField {
  const char* name;
  void (*bind)(py::class_<PyDecision>& cls, const char* name, const char* doc);
  py::object (*get)(const PyDecision& d);
  const char* doc;  // nullptr: none
};

template <auto Member>
constexpr DecisionField Row(const char* name, const char* doc = nullptr) {
  return {name,
          [](py::class_<PyDecision>& cls, const char* n, const char* d) {
            if (d) {
              cls.def_readonly(n, Member, d);
            } else {
              cls.def_readonly(n, Member);
            }
          },
          [](const PyDecision& p) -> py::object { return py::cast(p.*Member); }, doc};
}

const DecisionField kDecisionFields[] = {
    Row<&PyDecision::prompt_id>("prompt_id"),
    Row<&PyDecision::kind>("kind"),
    Row<&PyDecision::hint_level>("hint_level", "The ladder rung, 0 unless 'guide'."),
    Row<&PyDecision::hint_fraction>("hint_fraction", "Share of the reference shown, 0 unless 'guide'."),
    Row<&PyDecision::prompt_text>(
        "prompt_text", "What to roll out: the prompt plus hint_text when 'guide', the prompt as given otherwise."),
    Row<&PyDecision::hint_text>("hint_text", "The hint block alone; prompt_text == prompt + hint_text."),
    Row<&PyDecision::hint_boundary>("hint_boundary", "Where the reference was cut."),
    Row<&PyDecision::prompt_ids>("prompt_ids",
                                 "For a prompt given to a Gate as ids: its ids, followed by the hint's when guided "
                                 "(which needs the Gate's tokenizer_path); empty for prompts given as text."),
    Row<&PyDecision::predicted_pass_rate>("predicted_pass_rate", "None when decided without features."),
    Row<&PyDecision::expected_pass_rate>(
        "expected_pass_rate",
        "The pass rate this rollout is expected to have: the prompt's recent groups at this rung on a prior that "
        "is the prediction (unhinted) or every prompt's pass rate at the rung (hinted); what Gate.select's "
        "'nearest' rule ranks by. None without features."),
    Row<&PyDecision::pass_rate_posterior>(
        "pass_rate_posterior",
        "(alpha, beta) of the Beta belief about the pass rate, the same evidence with its spread; what "
        "Gate.select's 'signal' and 'thompson' rules read. None without features."),
    Row<&PyDecision::expected_completion_tokens>(
        "expected_completion_tokens",
        "Completion tokens one rollout of this prompt is expected to take, learned from the completion_tokens "
        "given to observe(); what Gate.select's 'signal_per_token' rule divides by. None until some were given."),
    Row<&PyDecision::recommended_group_size>(
        "recommended_group_size",
        "Rollouts for this prompt when Gate.select(..., vary_group_size=True) chose it; None otherwise."),
    Row<&PyDecision::rung_pass_rates>(
        "rung_pass_rates",
        "With rungs_by_prediction: the expected pass rate at every rung (index 0 unhinted) that hint_level was "
        "chosen by; empty when the ladder decided."),
    Row<&PyDecision::source>("source", "'prior' or 'supervised'; None without a prediction."),
    Row<&PyDecision::fail_open>("fail_open", "Decided without features."),
    Row<&PyDecision::reason>("reason"),
    Row<&PyDecision::model_digest>("model_digest",
                                   "Digest of the model that scored the prompt; '' when decided without features."),
};

py::dict ToDict(const PyDecision& d) {
  py::dict out;
  for (const DecisionField& field : kDecisionFields) out[field.name] = field.get(d);
  return out;
}

}  // namespace

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
  m.def(
      "sparsity_metric_names",
      [] { return std::vector<std::string>(MetricNames().begin(), MetricNames().end()); },
      "The service's sparsity metric names, in proto field order (difficulty_service/core/features/metric_list.h).");

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
      .def_readwrite("truncated", &PromptFeatures::truncated, "the service scored only the last token_count tokens")
      .def_readwrite("original_token_count", &PromptFeatures::original_token_count,
                     "the prompt's tokens before truncation (0: not reported)")
      .def("empty", &PromptFeatures::empty)
      .def("__bool__", [](const PromptFeatures& f) { return !f.empty(); })
      .def("__repr__", [](const PromptFeatures& f) {
        if (f.empty()) return std::string("PromptFeatures(empty)");
        return "PromptFeatures(" + std::to_string(f.metrics.size()) + " metrics, token_count=" +
               std::to_string(f.token_count) + (f.hidden.empty() ? "" : ", hidden=" + std::to_string(f.hidden.size())) +
               ")";
      });

  py::class_<PyDecision> decision(m, "Decision", "One prompt's decision. kind: 'keep', 'guide', 'drop' or 'defer'.");
  for (const DecisionField& field : kDecisionFields) field.bind(decision, field.name, field.doc);
  decision.def_property_readonly("rolled_out", &PyDecision::rolled_out, "True for 'keep' and 'guide'.")
      .def("to_dict", &ToDict)
      .def("__repr__", &Repr);
}

}  // namespace sparsegate::plugin::python

// The objects that decide: TrainerPlugin (no network), DifficultyClient (the service) and Gate (both,
// plus a tokenizer), with the prompt dicts they take and the stats dicts they give.
//
// The methods TrainerPlugin and Gate share (observe, begin_epoch, save, load) are bound once, by
// BindPluginMethods; so is wait_for_service, shared by DifficultyClient and Gate.
#include <pybind11/chrono.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>
#include <pybind11_json/pybind11_json.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "trainer_plugin/client/difficulty_client.h"
#include "trainer_plugin/features.h"
#include "trainer_plugin/gate.h"
#include "trainer_plugin/plugin.h"
#include "trainer_plugin/python/bindings.h"

namespace sparsegate::plugin::python {
namespace {

// ---------------------------------------------------------------------------------------------
// Prompts: a dict with known keys only.

struct PromptDict {
  std::string id;
  std::optional<std::string> text;
  std::vector<int32_t> ids;
  std::optional<std::string> reference;
};

// A str as UTF-8: a lone surrogate ("\ud800", from a bad decode upstream) has no UTF-8 form, and
// pybind11's own cast would say only "Unable to cast".
std::string Utf8(py::handle value, size_t index, const char* key) {
  try {
    return value.cast<std::string>();
  } catch (const py::cast_error&) {
  } catch (const py::error_already_set&) {
  }
  PyErr_Clear();
  throw py::value_error("prompt " + std::to_string(index) + ": '" + key +
                        "' cannot be encoded as UTF-8 (it holds a lone surrogate)");
}

std::string StringField(py::handle value, size_t index, const char* key) {
  if (!py::isinstance<py::str>(value)) {
    throw py::type_error("prompt " + std::to_string(index) + ": '" + key + "' must be a str or None, got " +
                         std::string(py::str(py::type::of(value).attr("__name__"))));
  }
  return Utf8(value, index, key);
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
        p.id = Utf8(py::str(value), index, "id");
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

// Parses each prompt and makes it into the C++ type with `make(PromptDict&&)`.
template <typename Make>
auto ParsePrompts(const py::sequence& prompts, bool ids_allowed, Make make) {
  std::vector<decltype(make(PromptDict{}))> batch;
  batch.reserve(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) batch.push_back(make(ParsePrompt(prompts[i], i, ids_allowed)));
  return batch;
}

std::vector<PromptInfo> ParsePromptInfos(const py::sequence& prompts) {
  return ParsePrompts(prompts, /*ids_allowed=*/false, [](PromptDict&& p) {
    return PromptInfo{std::move(p.id), std::move(*p.text), std::move(p.reference)};
  });
}

std::vector<GatePrompt> ParseGatePrompts(const py::sequence& prompts) {
  return ParsePrompts(prompts, /*ids_allowed=*/true, [](PromptDict&& p) {
    GatePrompt g;
    g.id = std::move(p.id);
    g.text = p.text.value_or("");
    g.ids = std::move(p.ids);
    g.reference_solution = std::move(p.reference);
    return g;
  });
}

// ---------------------------------------------------------------------------------------------
// Stats.

// The plugin's StatsJson as Python values (pybind11_json: integers stay int, NaN stays float).
// The trainer's prompt-length test as the core calls it, from a thread without the GIL. An
// exception from the callable is kept and raised again, unchanged, once the core has returned.
class PythonFits {
 public:
  explicit PythonFits(py::object fits) : fits_(std::move(fits)) {}

  PromptFits get() {
    if (fits_.is_none()) return nullptr;
    return [this](size_t index, const std::string& text) -> absl::StatusOr<bool> {
      py::gil_scoped_acquire gil;
      try {
        return fits_(index, text).cast<bool>();
      } catch (...) {
        raised_ = std::current_exception();
        return absl::CancelledError("the fits callable raised");
      }
    };
  }

  // Call with the GIL held, after the core returned.
  void RethrowIfRaised() {
    if (raised_) std::rethrow_exception(std::exchange(raised_, nullptr));
  }

 private:
  py::object fits_;
  std::exception_ptr raised_;
};

template <typename T>
T ValueOrRaised(absl::StatusOr<T> result, PythonFits& fits) {
  if (!result.ok()) fits.RethrowIfRaised();
  return Value(std::move(result));
}

constexpr const char* kFitsDoc =
    " `fits`: optional callable (index, prompt_text) -> bool, the trainer's prompt-length budget; a hinted "
    "prompt that fails it gets a shorter hint, or none (stats: hints_shortened_to_fit, hints_withheld_to_fit).";

py::object PluginStats(const TrainerPlugin& p) { return pyjson::from_json(p.StatsJson()); }

py::dict ClientStatsToPython(const ClientStats& s) {
  py::dict d;
  d["calls"] = s.calls;
  d["failed_calls"] = s.failed_calls;
  d["prompts_scored"] = s.prompts_scored;
  d["prompts_failed_open"] = s.prompts_failed_open;
  d["prompts_from_other_models"] = s.prompts_from_other_models;
  d["last_error"] = s.last_error;
  return d;
}

// ---------------------------------------------------------------------------------------------
// Methods bound on more than one class.

// T is TrainerPlugin or Gate: Gate's Observe, BeginEpoch, Save and Load pass through to its
// plugin (trainer_plugin/gate.h), so both classes get one set of names, keywords and docs.
template <typename T>
void BindPluginMethods(py::class_<T>& cls) {
  cls.def(
         "observe",
         [](T& p, const std::string& prompt_id, const std::vector<double>& rewards,
            const std::optional<std::vector<double>>& completion_tokens) {
           Check(p.Observe(prompt_id, rewards, completion_tokens.value_or(std::vector<double>{})));
         },
         py::arg("prompt_id"), py::arg("rewards"), py::arg("completion_tokens") = py::none(),
         py::call_guard<py::gil_scoped_release>(),
         "The rewards of one prompt's rollouts, each in [0, 1]; optionally each rollout's completion length in "
         "tokens, which teaches the plugin what a rollout of the prompt costs (Decision.expected_completion_tokens).")
      .def(
          "begin_epoch", [](T& p, int64_t epoch) { Check(p.BeginEpoch(epoch)); }, py::arg("epoch"),
          py::call_guard<py::gil_scoped_release>())
      .def(
          "save", [](const T& p, const std::filesystem::path& path) { Check(p.Save(PathString(path))); },
          py::arg("path"), py::call_guard<py::gil_scoped_release>(), "Writes one checkpoint file, atomically.")
      .def(
          "load", [](T& p, const std::filesystem::path& path) { Check(p.Load(PathString(path))); }, py::arg("path"),
          py::call_guard<py::gil_scoped_release>(), "All or nothing: on any error the plugin keeps its state.");
}

// T is DifficultyClient or Gate; `client_of` reaches the DifficultyClient.
template <typename T, typename ClientOf>
void BindWaitForService(py::class_<T>& cls, ClientOf client_of) {
  cls.def(
      "wait_for_service",
      [client_of](T& t, double seconds) {
        const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(std::llround(seconds * 1000)));
        return Value(client_of(t).WaitForService(timeout));
      },
      py::arg("seconds"), py::call_guard<py::gil_scoped_release>(),
      "Waits up to `seconds` for a replica to answer; returns the model it serves.");
}

// ---------------------------------------------------------------------------------------------

void BindTrainerPlugin(py::module_& m) {
  py::class_<TrainerPlugin> cls(m, "TrainerPlugin", R"doc(
Decides per prompt before rollout and learns from each group's rewards after it (no network).

    plugin = TrainerPlugin.create(FeatureSchema.for_feature_sets(["layer-1/last_token"]), PluginConfig())
    decisions = plugin.decide([{"id": "q1", "text": "...", "reference": "..."}], [features])
    plugin.observe("q1", [0.0] * 8)
)doc");
  cls.def_static(
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
          [](TrainerPlugin& p, const py::sequence& prompts, const std::vector<std::optional<PromptFeatures>>& features,
             py::object fits, const std::vector<std::vector<std::optional<PromptFeatures>>>& hinted_variants) {
            std::vector<PromptInfo> batch = ParsePromptInfos(prompts);
            auto plain = [](const std::vector<std::optional<PromptFeatures>>& given) {
              std::vector<PromptFeatures> out;
              out.reserve(given.size());
              for (const auto& f : given) out.push_back(f.value_or(PromptFeatures{}));
              return out;
            };
            std::vector<std::vector<PromptFeatures>> variants;
            for (const auto& v : hinted_variants) variants.push_back(plain(v));
            PythonFits budget(std::move(fits));
            absl::StatusOr<std::vector<Decision>> decisions;
            {
              py::gil_scoped_release release;
              decisions = p.Decide(batch, plain(features), budget.get(), variants);
            }
            return ToPyDecisions(ValueOrRaised(std::move(decisions), budget));
          },
          py::arg("prompts"), py::arg("features"), py::arg("fits") = py::none(),
          py::arg("hinted_variants") = std::vector<std::vector<std::optional<PromptFeatures>>>{},
          (std::string("One Decision per prompt, in order; features[i] None or empty means no features (fail-open). "
                       "hinted_variants, with rungs_by_prediction: per prompt, the features of hinted_variants(prompt), "
                       "one per rung ([] for none).") +
           kFitsDoc)
              .c_str())
      .def(
          "hinted_variants",
          [](const TrainerPlugin& p, const py::object& prompt) {
            py::list one;
            one.append(prompt);
            std::vector<py::dict> out;
            for (const HintedVariant& v : p.HintedVariants(ParsePromptInfos(one).front())) {
              py::dict d;
              d["prompt_text"] = v.prompt_text;
              d["hint_text"] = v.hint_text;
              out.push_back(std::move(d));
            }
            return out;
          },
          py::arg("prompt"),
          "With rungs_by_prediction: the prompt {'id', 'prompt', 'reference'} with each rung's hint placed, in rung "
          "order ({'prompt_text', 'hint_text'}); score each prompt_text and pass the features to decide(..., "
          "hinted_variants=). [] without a usable reference or with rungs_by_prediction off.")
      .def(
          "decide_without_features",
          [](TrainerPlugin& p, const py::sequence& prompts, py::object fits) {
            PythonFits budget(std::move(fits));
            return ToPyDecisions(ValueOrRaised(p.DecideWithoutFeatures(ParsePromptInfos(prompts), budget.get()), budget));
          },
          py::arg("prompts"), py::arg("fits") = py::none(),
          "Fail-open for a whole batch: counted in stats()['fail_open_decisions'].");
  BindPluginMethods(cls);
  cls.def("stats", &PluginStats)
      .def_property_readonly("schema", [](const TrainerPlugin& p) { return p.schema(); })
      .def_property_readonly("config", [](const TrainerPlugin& p) { return p.config(); });
}

void BindClient(py::module_& m) {
  py::class_<DifficultyClient> cls(m, "DifficultyClient", R"doc(
Scores prompts with the difficulty service. Never fails as a whole: a prompt that could not be
scored in time comes back as empty PromptFeatures and is counted in stats().
)doc");
  cls.def_static(
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
      .def_property_readonly("model_digest", &DifficultyClient::model_digest);
  BindWaitForService(cls, [](DifficultyClient& c) -> DifficultyClient& { return c; });
}

std::vector<PyDecision> GatedToPy(std::vector<GatedDecision> gated) {
  std::vector<PyDecision> out;
  out.reserve(gated.size());
  for (GatedDecision& d : gated) out.push_back(ToPyDecision(d.decision, std::move(d.prompt_ids)));
  return out;
}

void BindGate(py::module_& m) {
  py::class_<Gate> cls(m, "Gate", R"doc(
The whole plugin as a trainer uses it: score a batch with the service, decide per prompt, learn
from the rewards afterwards.

    gate = Gate.create(target="localhost:50051", hint_ladder=[0.25, 0.5, 0.75])
    decisions = gate.decide([{"id": "q1", "text": "...", "reference": "..."}])
    gate.observe("q1", rewards)

create() takes ClientOptions and PluginConfig fields as flat keywords, or whole objects as
client= and config=, tokenizer_path= (a tokenizer.json or model directory) to get hinted
prompts back as token ids for prompts given as ids, and selection_seed= for select()'s
"thompson" draws.
)doc");
  cls.def_static(
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
             } else if (key == "selection_seed") {
               options.selection_seed = value.cast<uint64_t>();
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
          [](Gate& g, const py::sequence& prompts, py::object fits) {
            std::vector<GatePrompt> batch = ParseGatePrompts(prompts);
            PythonFits budget(std::move(fits));
            absl::StatusOr<std::vector<GatedDecision>> gated;
            {
              py::gil_scoped_release release;
              gated = g.Decide(batch, budget.get());
            }
            return GatedToPy(ValueOrRaised(std::move(gated), budget));
          },
          py::arg("prompts"), py::arg("fits") = py::none(),
          (std::string("One Decision per prompt {'id', 'text' | 'ids', 'reference'}, in order. Prompts the service "
                       "could not score are decided fail-open.") +
           kFitsDoc)
              .c_str())
      .def(
          "select",
          [](Gate& g, const py::sequence& prompts, size_t count, double target, py::object fits,
             const std::string& rule, int group_size, bool vary_group_size, int min_group_size, int max_group_size) {
            SelectionOptions selection;
            selection.target = target;
            selection.group_size = group_size;
            selection.vary_group_size = vary_group_size;
            selection.min_group_size = min_group_size;
            selection.max_group_size = max_group_size;
            if (rule == "nearest") {
              selection.rule = SelectionRule::kNearestTarget;
            } else if (rule == "signal") {
              selection.rule = SelectionRule::kSignalProbability;
            } else if (rule == "thompson") {
              selection.rule = SelectionRule::kThompson;
            } else if (rule == "signal_per_token") {
              selection.rule = SelectionRule::kSignalPerToken;
            } else {
              throw py::value_error("select: rule is '" + rule +
                                    "'; it must be 'nearest', 'signal', 'thompson' or 'signal_per_token'");
            }
            std::vector<GatePrompt> batch = ParseGatePrompts(prompts);
            PythonFits budget(std::move(fits));
            absl::StatusOr<std::vector<GatedDecision>> gated;
            {
              py::gil_scoped_release release;
              gated = g.Select(batch, count, selection, budget.get());
            }
            return GatedToPy(ValueOrRaised(std::move(gated), budget));
          },
          py::arg("prompts"), py::arg("count"), py::arg("target") = 0.5, py::arg("fits") = py::none(),
          py::arg("rule") = "nearest", py::arg("group_size") = 8, py::arg("vary_group_size") = false,
          py::arg("min_group_size") = 2, py::arg("max_group_size") = 32,
          "Decides an oversampled candidate batch and returns the `count` Decisions to roll out, in input order, "
          "of those decided keep or guide. rule='nearest': expected_pass_rate nearest `target` (Prompt Curriculum "
          "Learning's choice); 'signal': the largest chance that a group of `group_size` rollouts has both a success "
          "and a failure, under pass_rate_posterior; 'thompson': one draw from each pass_rate_posterior, nearest "
          "`target`; 'signal_per_token': 'signal' divided by expected_completion_tokens (learned from the "
          "completion_tokens given to observe). vary_group_size=True: the chosen share count x group_size rollouts, "
          "each between min_group_size and max_group_size, so that the expected number of groups with signal is "
          "largest (Decision.recommended_group_size). Fewer come back when fewer may be rolled out; the rest need "
          "no observe.");
  BindPluginMethods(cls);
  BindWaitForService(cls, [](Gate& g) -> DifficultyClient& { return g.client(); });
  cls.def(
         "stats",
         [](Gate& g) {
           py::dict stats = PluginStats(g.plugin());
           stats["client"] = ClientStatsToPython(g.client().stats());
           stats["model_digest"] = g.client().model_digest();
           return stats;
         },
         "The plugin's stats, plus 'client' (the service calls) and 'model_digest'.")
      .def(
          "reload_service",
          [](Gate& g, const std::string& model_dir, double timeout) {
            absl::StatusOr<std::vector<ReloadResult>> results;
            {
              py::gil_scoped_release release;
              results = g.ReloadService(model_dir, std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000)));
            }
            Check(results.status());
            py::list out;
            for (const ReloadResult& r : *results) {
              py::dict d;
              d["replica"] = r.replica;
              d["model_digest"] = r.model_digest;
              d["previous_digest"] = r.previous_digest;
              d["load_ms"] = r.load_ms;
              out.append(d);
            }
            return out;
          },
          py::arg("model_dir"), py::arg("timeout") = 120.0,
          "Asks every replica to score with the checkpoint in model_dir from now on (servers started with "
          "--allow-reload; the path is on the replicas' machines). Returns one {'replica', 'model_digest', "
          "'previous_digest', 'load_ms'} per replica. Raises (naming the replica) when one refuses; the old "
          "model keeps serving there.")
      .def_property_readonly(
          "plugin", [](Gate& g) -> TrainerPlugin& { return g.plugin(); }, py::return_value_policy::reference_internal)
      .def_property_readonly(
          "client", [](Gate& g) -> DifficultyClient& { return g.client(); },
          py::return_value_policy::reference_internal);
}

}  // namespace

void BindPlugin(py::module_& m) {
  BindTrainerPlugin(m);
  BindClient(m);
  BindGate(m);
}

}  // namespace sparsegate::plugin::python

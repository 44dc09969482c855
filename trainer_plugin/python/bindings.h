// What the files of sparsegate._core share; nothing outside trainer_plugin/python includes it.
//
// Each Bind* function adds its classes to the module, and module.cc calls them in an order where
// every class is bound before a signature that names it. Errors leave C++ as StatusError (thrown
// by Check and Value) and become Python exceptions in module.cc. Option structs are built from
// keyword arguments by FromKwargs / Assign, which accept exactly the names the class binds as
// properties. The plugin's and the gate's decisions both reach Python as one PyDecision.
#ifndef SPARSEGATE_TRAINER_PLUGIN_PYTHON_BINDINGS_H_
#define SPARSEGATE_TRAINER_PLUGIN_PYTHON_BINDINGS_H_

#include <pybind11/pybind11.h>

#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer_plugin/plugin.h"

namespace sparsegate::plugin::python {

namespace py = pybind11;

// module.cc: PYBIND11_MODULE(_core) calls these.
void BindTypes(py::module_& m);   // bind_types.cc: FeatureSchema, PromptFeatures, Decision
void BindConfig(py::module_& m);  // bind_config.cc: PluginConfig, ClientOptions
void BindPlugin(py::module_& m);  // bind_plugin.cc: TrainerPlugin, DifficultyClient, Gate

// ---------------------------------------------------------------------------------------------
// Errors: a status that is not OK travels as a C++ exception, so that it is translated with the
// GIL held even when thrown from code that runs without it.

class StatusError : public std::exception {
 public:
  explicit StatusError(absl::Status status) : status_(std::move(status)), what_(status_.ToString()) {}
  const absl::Status& status() const { return status_; }
  const char* what() const noexcept override { return what_.c_str(); }

 private:
  absl::Status status_;
  std::string what_;
};

inline void Check(const absl::Status& status) {
  if (!status.ok()) throw StatusError(status);
}

template <typename T>
T Value(absl::StatusOr<T> value) {
  Check(value.status());
  return *std::move(value);
}

inline std::string PathString(const std::filesystem::path& path) { return path.string(); }

// ---------------------------------------------------------------------------------------------
// Keyword-argument construction for the option structs: each keyword must name a property of the
// class, and is assigned through it, so the conversions and checks live in one place.

bool HasProperty(py::handle type, const std::string& name);

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
  std::optional<double> expected_pass_rate;
  std::optional<std::pair<double, double>> pass_rate_posterior;  // (alpha, beta)
  std::optional<double> expected_completion_tokens;
  std::optional<int> recommended_group_size;
  std::vector<double> rung_pass_rates;
  std::optional<std::string> source;
  bool fail_open = false;
  std::string reason;
  std::string model_digest;

  bool rolled_out() const { return kind == "keep" || kind == "guide"; }
};

// `prompt_ids`: the gate's ids for a prompt given as ids, empty otherwise.
PyDecision ToPyDecision(const Decision& d, std::vector<int32_t> prompt_ids = {});
std::vector<PyDecision> ToPyDecisions(const std::vector<Decision>& decisions);

}  // namespace sparsegate::plugin::python

#endif  // SPARSEGATE_TRAINER_PLUGIN_PYTHON_BINDINGS_H_

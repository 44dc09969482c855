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
// The files: module.cc (this one: the module and its error translation), bind_types.cc,
// bind_config.cc and bind_plugin.cc, sharing bindings.h.
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
#include <pybind11/pybind11.h>

#include <exception>
#include <string>

#include "absl/status/status.h"
#include "trainer_plugin/python/bindings.h"

namespace sparsegate::plugin::python {
namespace {

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

}  // namespace
}  // namespace sparsegate::plugin::python

PYBIND11_MODULE(_core, m) {
  using namespace sparsegate::plugin::python;
  m.doc() = "sparsegate's trainer plugin, bound from C++ (see the sparsegate package for the adapters).";
  m.attr("__version__") = SPARSEGATE_VERSION_STRING;
  py::register_exception_translator(&TranslateStatusError);
  BindTypes(m);
  BindConfig(m);
  BindPlugin(m);
}

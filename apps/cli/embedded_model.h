// Finds the embedded default model (models/arith-3m, trained by scripts/embedded_model/train.py)
// relative to the running binary, so that a moved checkout or an installed binary still finds it:
//   <prefix>/bin/sparsegate           -> <prefix>/share/sparsegate/models/arith-3m   (installed)
//   <checkout>/build/apps/cli/...     -> <checkout>/models/arith-3m                  (a build folder)
// The checkout case walks up from the binary's folder, so any build folder depth works.
#ifndef SPARSEGATE_APPS_CLI_EMBEDDED_MODEL_H_
#define SPARSEGATE_APPS_CLI_EMBEDDED_MODEL_H_

#include <string>
#include <vector>

namespace sparsegate::cli {

inline constexpr char kEmbeddedModelName[] = "arith-3m";

// The model directory (one holding config.json), or "" when none of the candidates has one.
std::string FindEmbeddedModel();

// The directories FindEmbeddedModel looks in, in order: for the error message when it finds none.
std::vector<std::string> EmbeddedModelCandidates();

}  // namespace sparsegate::cli

#endif  // SPARSEGATE_APPS_CLI_EMBEDDED_MODEL_H_

// The model a server scores with: the engine and the batcher in front of it, loaded, warmed up
// and built together. A server holds one at a time and can swap it for another (the Reload call);
// calls that the old one admitted finish on it, and RetireWhenIdle destroys it once they have.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_BACKEND_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_BACKEND_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "difficulty_service/core/engine/scoring_engine.h"
#include "difficulty_service/service/batcher/batcher.h"

namespace sparsegate {

struct Backend {
  std::unique_ptr<ScoringEngine> engine;
  std::unique_ptr<Batcher> batcher;  // declared last: destroyed first, while the engine still exists
};

// Loads the checkpoint, runs one warm-up forward pass (the first pays for allocator and thread
// pool start-up) and starts a batcher. Errors name the file and, for weights, the tensor.
// `metrics` (may be null) goes to the batcher.
absl::StatusOr<std::shared_ptr<Backend>> LoadBackend(const std::string& model_dir, const EngineOptions& engine,
                                                     const BatcherOptions& batcher, ServiceMetrics* metrics = nullptr);

// OK when a model of config `next` can replace one of config `current` for the current clients:
// the same number of layers and the same hidden size, so that layer indices and pooled vectors
// keep their meaning. FailedPrecondition naming the field and `model_dir` otherwise.
absl::Status CheckSameShape(const ModelConfig& current, const ModelConfig& next, const std::string& model_dir);

// The folder a server's Reload calls are confined to, resolved: `root` when given, else the folder
// that holds `model_dir`. InvalidArgument naming the path when it cannot be resolved.
absl::StatusOr<std::string> ResolveReloadRoot(const std::string& root, const std::string& model_dir);

// `requested` (a Reload call's model_dir) resolved, when it lies inside `resolved_root`; otherwise
// PermissionDenied (outside the root) or InvalidArgument (too long, a NUL byte, a link loop, not
// resolvable), naming the path as QuotedPath shows it. Symbolic links and `..` are resolved first,
// so neither can leave the root.
absl::StatusOr<std::string> ResolveReloadPath(const std::string& requested, const std::string& resolved_root);

// Blocks until nothing but this call holds `old` and its batcher has no admitted prompt left,
// then destroys it. Run it off the batcher's own threads.
void RetireWhenIdle(std::shared_ptr<Backend> old);

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_BACKEND_H_

#include "difficulty_service/service/server/backend.h"

#include <climits>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <thread>

#include <spdlog/spdlog.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "difficulty_service/core/common/files.h"

namespace sparsegate {
namespace fs = std::filesystem;

absl::StatusOr<std::shared_ptr<Backend>> LoadBackend(const std::string& model_dir, const EngineOptions& engine_options,
                                                     const BatcherOptions& batcher_options, ServiceMetrics* metrics) {
  auto backend = std::make_shared<Backend>();
  auto engine = ScoringEngine::Load(model_dir, engine_options);
  if (!engine.ok()) return engine.status();
  backend->engine = *std::move(engine);
  for (const std::string& warning : backend->engine->load_warnings())
    spdlog::warn("{}", absl::CHexEscape(warning));
  PromptInput warm;
  warm.text = "Warm-up: 1 + 1 = 2.";
  auto prepared = backend->engine->Prepare(warm, /*truncate_left=*/true);
  if (!prepared.ok()) return absl::InternalError(absl::StrCat("warm-up prompt failed: ", prepared.status().message()));
  FeatureRequest request;
  request.layers = {static_cast<int>(backend->engine->config().num_hidden_layers)};
  backend->engine->Run({&*prepared}, {&request});
  // After the warm-up, so that the device's free memory is what serving will have.
  auto batcher = Batcher::Start(*backend->engine, batcher_options, metrics);
  if (!batcher.ok()) return batcher.status();
  backend->batcher = *std::move(batcher);
  return backend;
}

absl::Status CheckSameShape(const ModelConfig& current, const ModelConfig& next, const std::string& model_dir) {
  auto differs = [&](const char* field, int64_t now, int64_t then) {
    return absl::FailedPreconditionError(absl::StrCat(model_dir, "/config.json: ", field, " is ", then,
                                                      ", the serving model's is ", now,
                                                      "; a reload keeps the model's shape (restart to change it)"));
  };
  if (next.num_hidden_layers != current.num_hidden_layers)
    return differs("num_hidden_layers", current.num_hidden_layers, next.num_hidden_layers);
  if (next.hidden_size != current.hidden_size) return differs("hidden_size", current.hidden_size, next.hidden_size);
  return absl::OkStatus();
}

namespace {

absl::StatusOr<std::string> Resolve(const std::string& path, const char* what) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (path.size() >= PATH_MAX)
    return absl::InvalidArgumentError(absl::StrCat(what, " ", QuotedPath(path), " is longer than the system's limit of ",
                                                   PATH_MAX - 1, " bytes"));
  if (absl::Status s = CheckNoNulByte(path); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", s.message()));
  }
  std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr), &std::free);
  if (resolved == nullptr) {
    const int error = errno;
    const std::string message = absl::StrCat(what, " ", QuotedPath(path), " cannot be resolved: ", std::strerror(error),
                                             error == ELOOP ? " (a symbolic link loop)" : "");
    return error == ENOENT ? absl::NotFoundError(message) : absl::InvalidArgumentError(message);
  }
  return std::string(resolved.get());
}

}  // namespace

absl::StatusOr<std::string> ResolveReloadRoot(const std::string& root, const std::string& model_dir) {
  if (!root.empty()) return Resolve(root, "--reload-root");
  absl::StatusOr<std::string> model = Resolve(model_dir, "--model");
  if (!model.ok()) return model.status();
  return fs::path(*model).parent_path().string();
}

absl::StatusOr<std::string> ResolveReloadPath(const std::string& requested, const std::string& resolved_root) {
  auto inside = [&resolved_root](const std::string& path) {
    const std::string root = resolved_root == "/" ? "" : resolved_root;
    return path.size() > root.size() + 1 && path.compare(0, root.size(), root) == 0 && path[root.size()] == '/';
  };
  const absl::Status outside = absl::PermissionDeniedError(
      absl::StrCat("model_dir ", QuotedPath(requested), " is outside the reload root (--reload-root) of this server"));
  // Checked on the spelling first, so that a path outside the root is refused the same way whether
  // or not it exists: the answer must not tell a caller what is on the machine.
  std::error_code ec;
  const std::string spelled = fs::absolute(requested, ec).lexically_normal().string();
  if (ec || !inside(spelled)) return outside;
  absl::StatusOr<std::string> resolved = Resolve(requested, "model_dir");
  if (!resolved.ok()) return resolved.status();
  if (!inside(*resolved)) return outside;  // a symbolic link out of the root
  // The files inside may be links too (Hugging Face's cache links snapshots to blobs); none may
  // lead out of the root. Links that do not resolve are left for the loader, which names them.
  constexpr int kMaxEntries = 10000;
  int entries = 0;
  std::error_code listing;
  for (fs::directory_iterator it(*resolved, listing), end; !listing && it != end; it.increment(listing)) {
    if (++entries > kMaxEntries)
      return absl::InvalidArgumentError(absl::StrCat("model_dir ", QuotedPath(requested), " holds more than ",
                                                     kMaxEntries, " entries: not a model directory"));
    std::error_code ec;
    if (!it->is_symlink(ec)) continue;
    std::unique_ptr<char, decltype(&std::free)> target(::realpath(it->path().c_str(), nullptr), &std::free);
    if (target != nullptr && !inside(target.get()))
      return absl::PermissionDeniedError(absl::StrCat("model_dir ", QuotedPath(requested), ": ",
                                                      QuotedPath(it->path().filename().string()),
                                                      " is a symbolic link out of the reload root"));
  }
  if (listing)
    return absl::InvalidArgumentError(absl::StrCat("model_dir ", QuotedPath(requested), " cannot be listed: ", listing.message()));
  return resolved;
}

void RetireWhenIdle(std::shared_ptr<Backend> old) {
  // Handlers hold the backend only while they validate and submit; the batcher counts what it
  // admitted until each prompt is scored or dropped. Both end without this thread's help.
  while (old.use_count() > 1 || old->batcher->admitted_prompts() > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  old.reset();
}

}  // namespace sparsegate

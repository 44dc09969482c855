#include "difficulty_service/server/backend.h"

#include <chrono>
#include <thread>

#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "difficulty_service/model/openmp_teams.h"

namespace sparsegate {

absl::StatusOr<std::shared_ptr<Backend>> LoadBackend(const std::string& model_dir, const EngineOptions& engine_options,
                                                     const BatcherOptions& batcher_options, ServiceMetrics* metrics) {
  auto backend = std::make_shared<Backend>();
  auto engine = ScoringEngine::Load(model_dir, engine_options);
  if (!engine.ok()) return engine.status();
  backend->engine = *std::move(engine);
  PromptInput warm;
  warm.text = "Warm-up: 1 + 1 = 2.";
  auto prepared = backend->engine->Prepare(warm, /*truncate_left=*/true);
  if (!prepared.ok()) return absl::InternalError(absl::StrCat("warm-up prompt failed: ", prepared.status().message()));
  FeatureRequest request;
  request.layers = {static_cast<int>(backend->engine->config().num_hidden_layers)};
  backend->engine->Run({&*prepared}, {&request});
  // After the warm-up, so that the device's free memory is what serving will have.
  absl::StatusOr<TokenBudgetFit> fit = backend->engine->FitTokenBudget(batcher_options.token_budget);
  if (!fit.ok()) return fit.status();
  if (backend->engine->device().is_cuda()) spdlog::info("{}", fit->Describe(batcher_options.token_budget));
  BatcherOptions fitted = batcher_options;
  fitted.token_budget = fit->tokens;
  backend->batcher = std::make_unique<Batcher>(*backend->engine, fitted, metrics);
  ReleaseOpenMpTeamOfThisThread();  // the batcher's worker computes from here on (openmp_teams.h)
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

void RetireWhenIdle(std::shared_ptr<Backend> old) {
  // Handlers hold the backend only while they validate and submit; the batcher counts what it
  // admitted until each prompt is scored or dropped. Both end without this thread's help.
  while (old.use_count() > 1 || old->batcher->admitted_prompts() > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  old.reset();
}

}  // namespace sparsegate

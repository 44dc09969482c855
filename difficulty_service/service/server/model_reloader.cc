#include "difficulty_service/service/server/model_reloader.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "absl/strings/escaping.h"
#include "difficulty_service/core/common/clock.h"
#include "difficulty_service/core/common/files.h"
#include "difficulty_service/service/server/backend.h"
#include "difficulty_service/service/server/difficulty_service_impl.h"

namespace sparsegate {

ModelReloader::ModelReloader(std::string root, ServerOptions options, DifficultyServiceImpl* service,
                             ServiceMetrics* metrics)
    : root_(std::move(root)), options_(std::move(options)), service_(service), metrics_(metrics) {}

ModelReloader::~ModelReloader() {
  if (thread_.joinable()) thread_.join();
}

void ModelReloader::Reload(const std::string& model_dir, Done done) {
  std::lock_guard<std::mutex> lock(mu_);
  if (reloading_) {
    done(absl::AbortedError("a reload is already in progress; retry when it has finished"));
    return;
  }
  if (thread_.joinable()) thread_.join();  // the previous reload, finished
  absl::StatusOr<std::string> resolved = ResolveReloadPath(model_dir, root_);
  if (!resolved.ok()) {
    spdlog::error("reload of {} refused: {}", QuotedPath(model_dir), absl::CHexEscape(resolved.status().message()));
    done(resolved.status());
    return;
  }
  reloading_ = true;
  thread_ = std::thread([this, model_dir = *std::move(resolved), done = std::move(done)] {
    LoadAndSwitch(model_dir, [&](absl::StatusOr<v1::ReloadResponse> result) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        reloading_ = false;
      }
      done(std::move(result));
    });
  });
}

void ModelReloader::LoadAndSwitch(const std::string& model_dir, const Done& done) {
  const auto start = SteadyClock::now();
  std::shared_ptr<Backend> current = service_->backend();
  if (!current) return done(absl::UnavailableError("the first model is still loading"));
  auto next = LoadBackend(model_dir, options_.engine, options_.batcher, metrics_);
  if (!next.ok()) {
    spdlog::error("reload of {} refused, still serving {}: {}", QuotedPath(model_dir),
                  current->engine->checkpoint().content_digest(), absl::CHexEscape(next.status().message()));
    return done(next.status());
  }
  if (absl::Status shape = CheckSameShape(current->engine->config(), (*next)->engine->config(), model_dir);
      !shape.ok()) {
    spdlog::error("reload of {} refused: {}", QuotedPath(model_dir), absl::CHexEscape(shape.message()));
    return done(shape);
  }
  v1::ReloadResponse response;
  response.set_model_name((*next)->engine->checkpoint().name());
  response.set_model_digest((*next)->engine->checkpoint().content_digest());
  response.set_previous_digest(current->engine->checkpoint().content_digest());
  response.set_load_ms(MillisSince(start));
  current.reset();
  metrics_->SetModel(model_dir, response.model_digest(), response.load_ms() / 1e3);
  std::shared_ptr<Backend> old = service_->SetBackend(*std::move(next));
  spdlog::info("reloaded {} in {:.0f} ms: {} -> {}", QuotedPath(model_dir), response.load_ms(),
               response.previous_digest(), response.model_digest());
  RetireWhenIdle(std::move(old));
  done(std::move(response));
}

}  // namespace sparsegate

// Reload orchestration: switches the service to another checkpoint of the same shape while the
// old one goes on serving.
//
// One reload at a time (another call meanwhile gets ABORTED). The path is confined to the reload
// root before any file is touched (server_options.h, --reload-root). The new model loads and warms
// up on the reload thread; a checkpoint of another shape is refused, and the old model then goes
// on serving. After the switch, the calls the old model admitted finish on it before the reload
// answers, so that the next reload never waits for this one. Refusals are logged with the path
// quoted and the message escaped, since both come from the caller.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_MODEL_RELOADER_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_MODEL_RELOADER_H_

#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "difficulty_service/service/metrics/service_metrics.h"
#include "difficulty_service/service/server/server_options.h"
#include "sparsegate/v1/difficulty.pb.h"

namespace sparsegate {

class DifficultyServiceImpl;

class ModelReloader {
 public:
  using Done = std::function<void(absl::StatusOr<v1::ReloadResponse>)>;

  // `root` is the resolved reload root; `service` and `metrics` must outlive the reloader.
  ModelReloader(std::string root, ServerOptions options, DifficultyServiceImpl* service, ServiceMetrics* metrics);
  // Waits for a running reload to finish.
  ~ModelReloader();

  // Answers through `done`: at once when the reload is refused before loading, else from the
  // reload thread.
  void Reload(const std::string& model_dir, Done done);

 private:
  void LoadAndSwitch(const std::string& model_dir, const Done& done);

  const std::string root_;
  const ServerOptions options_;  // the engine and batcher options every model is loaded with
  DifficultyServiceImpl* const service_;
  ServiceMetrics* const metrics_;
  std::mutex mu_;
  bool reloading_ = false;  // guarded by mu_
  std::thread thread_;      // the latest reload; joined by the next one and on destruction
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_MODEL_RELOADER_H_

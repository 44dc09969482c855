// The gRPC difficulty service: DifficultyService (Score, ScoreStream, Info),
// standard grpc.health.v1 health checking and server reflection.
//
// Start() binds the port and serves at once, reporting NOT_SERVING while the
// model loads and warms up in the background; then SERVING. Score calls
// before that get UNAVAILABLE. Handlers never block: they validate, hand the
// job to the batcher and return; the model worker finishes the call.
//
// With allow_reload, the Reload call switches to another checkpoint of the same
// shape on a reload thread, while the old model goes on serving; calls it
// admitted finish on it (difficulty.proto describes the contract). Reload needs a token with the
// reload permission (access_control.h), so allow_reload without a token file is refused at Start,
// and takes only directories inside the reload root (server_options.h). A ScoreStream whose client
// does not read its answers stops being read (flow control) instead of buffering them.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_DIFFICULTY_SERVER_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_DIFFICULTY_SERVER_H_

#include <grpcpp/server.h>

#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "difficulty_service/core/engine/scoring_engine.h"
#include "difficulty_service/service/batcher/batcher.h"
#include "difficulty_service/service/metrics/metrics_http_server.h"
#include "difficulty_service/service/metrics/service_metrics.h"
#include "difficulty_service/service/server/access_control.h"
#include "difficulty_service/service/server/server_options.h"

namespace sparsegate {


class DifficultyServiceImpl;
class ModelReloader;

class DifficultyServer {
 public:
  // Fails when the options contradict each other or the address cannot be bound; model loading
  // errors come from WaitUntilReady().
  static absl::StatusOr<std::unique_ptr<DifficultyServer>> Start(const ServerOptions& options);
  ~DifficultyServer();

  int port() const { return port_; }
  int health_port() const { return health_port_; }  // 0 without health_address
  int metrics_port() const { return metrics_http_ ? metrics_http_->port() : 0; }  // 0 without metrics_address
  const ServiceMetrics& metrics() const { return *metrics_; }
  // Blocks until the model is loaded and warmed up, or failed to load.
  absl::Status WaitUntilReady();
  // A graceful drain, for SIGTERM: health turns NOT_SERVING and new Score calls and stream requests
  // get UNAVAILABLE ("draining", so that clients send them to another replica) while the port stays
  // open; returns once the prompts already admitted are scored, or after `timeout`. True when idle.
  bool Drain(std::chrono::milliseconds timeout);
  // Stops accepting calls, lets running ones finish (up to `grace`), then ends.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

 private:
  DifficultyServer() = default;
  absl::Status LoadModel(const ServerOptions& options);
  // Health of the server and of DifficultyService, on every port that serves health.
  void SetServing(bool serving);

  // Declared first: destroyed last, after every batcher and call that records into it.
  std::unique_ptr<ServiceMetrics> metrics_ = std::make_unique<ServiceMetrics>();
  std::unique_ptr<MetricsHttpServer> metrics_http_;  // only with metrics_address
  std::unique_ptr<DifficultyServiceImpl> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> health_server_;  // only with health_address
  int health_port_ = 0;
  std::future<absl::Status> ready_;
  int port_ = 0;
  std::once_flag shutdown_once_;
  std::unique_ptr<ModelReloader> reloader_;  // only with allow_reload
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_DIFFICULTY_SERVER_H_

#include "difficulty_service/service/server/difficulty_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "difficulty_service/core/common/clock.h"
#include "difficulty_service/core/common/files.h"
#include "difficulty_service/service/server/backend.h"
#include "difficulty_service/service/server/difficulty_service_impl.h"
#include "difficulty_service/service/server/model_reloader.h"
#include "difficulty_service/service/server/request_counter.h"
#include "difficulty_service/service/server/request_translation.h"
#include "difficulty_service/service/server/startup_warnings.h"

namespace sparsegate {
namespace {

using Clock = SteadyClock;
constexpr char kServiceName[] = "sparsegate.v1.DifficultyService";

}  // namespace

absl::StatusOr<std::unique_ptr<DifficultyServer>> DifficultyServer::Start(const ServerOptions& options) {
  if (absl::Status fields = CheckMetricFields(); !fields.ok()) return fields;
  if (absl::Status checked = CheckServerOptions(options); !checked.ok()) return checked;
  auto credentials = MakeServerCredentials(options.security);
  if (!credentials.ok()) return credentials.status();
  auto access = AccessControl::Load(options.security.auth_tokens_file);
  if (!access.ok()) return access.status();
  if (options.allow_reload && !access->AnyTokenMay(Permission::kReload))
    // A reload changes what every client is served: it is never open to anyone who can connect.
    return absl::InvalidArgumentError(
        "--allow-reload needs --auth-tokens with a token allowed 'reload': only such a token may switch the model");
  const bool tls = !options.security.tls_cert_file.empty();
  WarnAboutExposure(options.address, tls, access->requires_token());
  std::unique_ptr<DifficultyServer> server(new DifficultyServer);
  std::string reload_root;
  if (options.allow_reload) {
    absl::StatusOr<std::string> root = ResolveReloadRoot(options.reload_root, options.model_dir);
    if (!root.ok()) return root.status();
    reload_root = *std::move(root);
    spdlog::info("Reload accepts model directories inside {}", QuotedPath(reload_root));
  }
  DifficultyServer* raw = server.get();
  DifficultyServiceImpl::ReloadFunction reload;
  if (options.allow_reload) {
    reload = [raw](const std::string& model_dir, auto done) { raw->reloader_->Reload(model_dir, std::move(done)); };
  }
  server->service_ = std::make_unique<DifficultyServiceImpl>(
      options.max_prompts_per_request, options.max_stream_backlog_bytes, std::move(reload), *std::move(access));
  if (options.allow_reload) {
    server->reloader_ = std::make_unique<ModelReloader>(std::move(reload_root), options, server->service_.get(),
                                                        server->metrics_.get());
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address, *credentials, &server->port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  builder.RegisterService(server->service_.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<RequestCounterFactory>(server->metrics_.get()));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || server->port_ == 0)
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.address));
  if (!options.health_address.empty()) {
    // Health alone, in plaintext, for probes that cannot speak TLS (Kubernetes' gRPC probes).
    grpc::ServerBuilder health_builder;
    health_builder.AddListeningPort(options.health_address, grpc::InsecureServerCredentials(), &server->health_port_);
    server->health_server_ = health_builder.BuildAndStart();
    if (!server->health_server_ || server->health_port_ == 0)
      return absl::UnavailableError(absl::StrCat("cannot listen on ", options.health_address, " (health)"));
  }
  if (!options.metrics_address.empty()) {
    auto http = MetricsHttpServer::Start(options.metrics_address, [metrics = server->metrics_.get()] { return metrics->Render(); });
    if (!http.ok()) return http.status();
    server->metrics_http_ = *std::move(http);
  }
  server->metrics_->SetQueueDepth([service = server->service_.get()] {
    auto backend = service->backend();
    return backend ? backend->batcher->admitted_prompts() : int64_t{0};
  });
  server->metrics_->SetCacheBytes([service = server->service_.get()] {
    auto backend = service->backend();
    return backend ? backend->batcher->cache_bytes() : int64_t{0};
  });
  server->metrics_->SetPrefixCacheSize([service = server->service_.get()] {
    auto backend = service->backend();
    if (!backend) return ServiceMetrics::PrefixCacheSize{};
    const PrefixCacheStats cache = backend->engine->prefix_cache_stats();
    return ServiceMetrics::PrefixCacheSize{cache.blocks, cache.bytes};
  });
  server->SetServing(false);

  server->ready_ = std::async(std::launch::async, [raw, options] { return raw->LoadModel(options); });
  return server;
}

absl::Status DifficultyServer::LoadModel(const ServerOptions& options) {
  const auto start = Clock::now();
  CheckBlasSpeed();
  auto backend = LoadBackend(options.model_dir, options.engine, options.batcher, metrics_.get());
  if (!backend.ok()) return backend.status();
  metrics_->SetModel(options.model_dir, (*backend)->engine->checkpoint().content_digest(), MillisSince(start) / 1e3);
  service_->SetBackend(*backend);
  SetServing(true);
  spdlog::info("model {} loaded and warmed up in {:.0f} ms ({})", (*backend)->engine->checkpoint().name(),
               MillisSince(start), (*backend)->engine->checkpoint().content_digest());
  if (const std::string& choice = (*backend)->engine->cpu_matmul_choice(); !choice.empty())
    spdlog::info("float32 products: {}", choice);
  return absl::OkStatus();
}

absl::Status DifficultyServer::WaitUntilReady() {
  if (!ready_.valid()) return absl::FailedPreconditionError("WaitUntilReady() called twice");
  return ready_.get();
}

void DifficultyServer::SetServing(bool serving) {
  for (grpc::Server* server : {server_.get(), health_server_.get()}) {
    if (server == nullptr) continue;
    auto* health = server->GetHealthCheckService();
    health->SetServingStatus(serving);
    health->SetServingStatus(kServiceName, serving);
  }
}

bool DifficultyServer::Drain(std::chrono::milliseconds timeout) {
  SetServing(false);
  service_->StartDraining();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto backend = service_->backend();
    if (!backend || backend->batcher->admitted_prompts() == 0) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

void DifficultyServer::Shutdown(std::chrono::milliseconds grace) {
  std::call_once(shutdown_once_, [&] {
    if (!server_) return;  // Start failed before the server was built
    SetServing(false);
    server_->Shutdown(std::chrono::system_clock::now() + grace);
    server_->Wait();
    if (health_server_) {
      health_server_->Shutdown(std::chrono::system_clock::now());
      health_server_->Wait();
    }
  });
}

DifficultyServer::~DifficultyServer() {
  if (ready_.valid()) ready_.wait();
  Shutdown();
  reloader_.reset();  // waits for a running reload, which uses the service
  // The batcher (inside the backend) ends queued jobs before the service goes.
  if (service_) service_->SetBackend(nullptr);
}

}  // namespace sparsegate

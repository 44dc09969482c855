#include "difficulty_service/server/difficulty_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/server_interceptor.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "difficulty_service/common/clock.h"
#include "difficulty_service/common/files.h"
#include "difficulty_service/model/blas_probe.h"
#include "difficulty_service/server/backend.h"
#include "difficulty_service/server/request_translation.h"
#include "sparsegate/v1/difficulty.grpc.pb.h"

#ifndef SPARSEGATE_VERSION
#define SPARSEGATE_VERSION "dev"
#endif

namespace sparsegate {
namespace {

using Clock = SteadyClock;
constexpr char kServiceName[] = "sparsegate.v1.DifficultyService";
// "127.0.0.1:p", "[::1]:p", "localhost:p", "unix:..." reach only this machine.
bool IsLoopbackAddress(const std::string& address) {
  for (const char* prefix : {"127.", "[::1]:", "localhost:", "unix:"})
    if (address.rfind(prefix, 0) == 0) return true;
  return false;
}

constexpr char kDrainingMessage[] = "the server is shutting down (draining); send this to another replica";

Clock::time_point SteadyDeadline(std::chrono::system_clock::time_point deadline) {
  if (deadline == std::chrono::system_clock::time_point::max()) return Clock::time_point::max();
  auto left = deadline - std::chrono::system_clock::now();
  if (left > std::chrono::hours(24 * 365)) return Clock::time_point::max();
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(left);
}

// Counts every finished call of the main port by method and status code, whichever path ended it.
class RequestCounter final : public grpc::experimental::Interceptor {
 public:
  RequestCounter(const char* method, ServiceMetrics* metrics) : metrics_(metrics) {
    std::string name = method ? method : "";
    method_ = name.empty() || name[0] != '/' ? name : name.substr(1);  // "sparsegate.v1.DifficultyService/Score"
  }
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS))
      metrics_->CountRequest(method_, static_cast<absl::StatusCode>(methods->GetSendStatus().error_code()));
    methods->Proceed();
  }

 private:
  std::string method_;
  ServiceMetrics* metrics_;
};

class RequestCounterFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RequestCounterFactory(ServiceMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(grpc::experimental::ServerRpcInfo* info) override {
    return new RequestCounter(info->method(), metrics_);
  }

 private:
  ServiceMetrics* metrics_;
};

void CheckBlasSpeed() {
  double gflops = MeasureMatmulGflops();
  if (gflops < kSlowBlasGflops) {
    spdlog::warn("****************************************************************");
    spdlog::warn("matrix products run at {:.1f} GFLOP/s: the reference BLAS is selected.", gflops);
    spdlog::warn("Forward passes will be ~35x slower. Install libopenblas0-openmp");
    spdlog::warn("(or select it with update-alternatives for libblas.so.3).");
    spdlog::warn("****************************************************************");
  } else {
    spdlog::info("matrix products run at {:.0f} GFLOP/s", gflops);
  }
}

// The service's methods take and give raw bytes, parsed here: for a request it cannot parse, gRPC's
// own deserialization answers an empty UNIMPLEMENTED (unary) or ends a stream with OK at the first
// bad frame, leaving the later requests unanswered. Here the call gets INVALID_ARGUMENT naming the
// message type, and a bad stream frame gets its own error response while the stream goes on.
using RawService = v1::DifficultyService::WithRawCallbackMethod_Score<
    v1::DifficultyService::WithRawCallbackMethod_ScoreStream<v1::DifficultyService::WithRawCallbackMethod_Info<
        v1::DifficultyService::WithRawCallbackMethod_Reload<v1::DifficultyService::Service>>>>;

template <typename Message>
absl::Status Parse(const grpc::ByteBuffer& bytes, Message* message) {
  grpc::ByteBuffer copy(bytes);  // Deserialize consumes its buffer; the copy shares the slices
  if (grpc::SerializationTraits<Message>::Deserialize(&copy, message).ok()) {
    // A field this server does not define means a client that expects something it will not get.
    if (!message->unknown_fields().empty())
      return absl::InvalidArgumentError(absl::StrCat("the request holds fields this server does not define (",
                                                     Message::descriptor()->full_name(), ")"));
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat("the request is not a valid ", Message::descriptor()->full_name(),
                                                 " message (", bytes.Length(), " bytes that do not parse)"));
}

template <typename Message>
grpc::ByteBuffer Serialize(const Message& message) {
  grpc::ByteBuffer out;
  bool own_buffer = false;
  grpc::SerializationTraits<Message>::Serialize(message, &out, &own_buffer);
  return out;
}

}  // namespace

class DifficultyServiceImpl final : public RawService {
 public:
  // Reloads `model_dir` and calls `done` once with the result, from another thread. Empty: the
  // Reload call is off.
  using ReloadFunction =
      std::function<void(const std::string& model_dir, std::function<void(absl::StatusOr<v1::ReloadResponse>)> done)>;

  DifficultyServiceImpl(int max_prompts_per_request, int64_t max_stream_backlog_bytes, ReloadFunction reload,
                        AccessControl access)
      : max_prompts_(max_prompts_per_request),
        max_stream_backlog_bytes_(max_stream_backlog_bytes),
        reload_(std::move(reload)),
        access_(std::move(access)) {}

  // Returns the backend it replaces.
  std::shared_ptr<Backend> SetBackend(std::shared_ptr<Backend> backend) {
    std::lock_guard<std::mutex> lock(mu_);
    std::swap(backend_, backend);
    return backend;
  }
  std::shared_ptr<Backend> backend() const {
    std::lock_guard<std::mutex> lock(mu_);
    return backend_;
  }
  int max_prompts() const { return max_prompts_; }
  int64_t max_stream_backlog_bytes() const { return max_stream_backlog_bytes_; }
  const AccessControl& access() const { return access_; }
  void StartDraining() { draining_ = true; }
  bool draining() const { return draining_.load(); }

  grpc::ServerUnaryReactor* Score(grpc::CallbackServerContext* context, const grpc::ByteBuffer* bytes,
                                  grpc::ByteBuffer* response) override {
    const auto start = Clock::now();
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (grpc::Status allowed = access_.Check(*context, Permission::kScore); !allowed.ok()) {
      reactor->Finish(allowed);
      return reactor;
    }
    auto request = std::make_shared<v1::ScoreRequest>();
    if (absl::Status parsed = Parse(*bytes, request.get()); !parsed.ok()) {
      reactor->Finish(ToGrpcStatus(parsed));
      return reactor;
    }
    absl::Status admitted = Admit(
        request, start, SteadyDeadline(context->deadline()), [context] { return context->IsCancelled(); },
        [reactor, response](const absl::Status& status, v1::ScoreResponse* answer) {
          if (status.ok()) *response = Serialize(*answer);
          reactor->Finish(ToGrpcStatus(status));
        });
    if (!admitted.ok()) reactor->Finish(ToGrpcStatus(admitted));
    return reactor;
  }

  // Called once per admitted request, from the batcher's worker: the request's answer when
  // `status` is OK (the callee may take it), nothing otherwise.
  using AnswerFunction = std::function<void(const absl::Status& status, v1::ScoreResponse* answer)>;

  // The admission path Score and ScoreStream share: a loaded model, not draining, a request that
  // translates into a job, and room in the batcher's bounds. OK: `answer` will be called once.
  // Otherwise the refusal, and `answer` is never called.
  // `start`: when the call began, for the response's server time.
  absl::Status Admit(std::shared_ptr<const v1::ScoreRequest> request, Clock::time_point start,
                     Clock::time_point deadline, std::function<bool()> is_cancelled, AnswerFunction answer) {
    auto backend = this->backend();
    if (!backend) return absl::UnavailableError("the model is still loading");
    if (draining_) return absl::UnavailableError(kDrainingMessage);
    auto job = JobFromRequest(*request, *backend->engine, max_prompts_);
    if (!job.ok()) return job.status();
    (*job)->deadline = deadline;
    (*job)->is_cancelled = std::move(is_cancelled);
    // The callback must not own the backend: the last owner of the batcher
    // would then destroy it from the batcher's own worker thread.
    (*job)->on_done = [request, answer = std::move(answer), digest = backend->engine->checkpoint().content_digest(),
                       start](const absl::Status& status, ScoreJob& done) {
      v1::ScoreResponse response;
      if (status.ok()) FillResponse(*request, done, digest, MillisSince(start), &response);
      answer(status, &response);
    };
    return backend->batcher->Submit(*std::move(job));
  }

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ScoreStream(grpc::CallbackServerContext* context) override;

  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context, const grpc::ByteBuffer* bytes,
                                 grpc::ByteBuffer* answer) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (grpc::Status allowed = access_.Check(*context, Permission::kScore); !allowed.ok()) {
      reactor->Finish(allowed);
      return reactor;
    }
    v1::InfoRequest request;
    if (absl::Status parsed = Parse(*bytes, &request); !parsed.ok()) {
      reactor->Finish(ToGrpcStatus(parsed));
      return reactor;
    }
    auto backend = this->backend();
    if (!backend) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the model is still loading"));
      return reactor;
    }
    const ScoringEngine& engine = *backend->engine;
    const ModelConfig& config = engine.config();
    v1::InfoResponse info;
    info.set_model_name(engine.checkpoint().name());
    info.set_model_digest(engine.checkpoint().content_digest());
    info.set_architecture(config.architecture);
    info.set_model_type(config.model_type);
    info.set_num_layers(static_cast<int>(config.num_hidden_layers));
    info.set_num_hidden_states(static_cast<int>(config.num_hidden_layers) + 1);
    info.set_hidden_size(static_cast<int>(config.hidden_size));
    info.set_vocab_size(static_cast<int>(config.vocab_size));
    info.set_max_prompt_tokens(static_cast<int>(engine.max_prompt_tokens()));
    info.set_max_prompts_per_request(max_prompts_);
    info.set_service_version(SPARSEGATE_VERSION);
    info.set_has_chat_template(engine.has_chat_template());
    info.set_max_prompt_bytes(engine.max_prompt_bytes());
    for (const std::string& warning : engine.load_warnings()) info.add_load_warnings(warning);
    for (const auto& [layer, channels] : engine.detected_outliers()) {
      v1::LayerOutliers* outliers = info.add_detected_outliers();
      outliers->set_layer(layer);
      outliers->mutable_channels()->Add(channels.begin(), channels.end());
    }
    *answer = Serialize(info);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  grpc::ServerUnaryReactor* Reload(grpc::CallbackServerContext* context, const grpc::ByteBuffer* bytes,
                                   grpc::ByteBuffer* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    v1::ReloadRequest request;
    absl::Status parsed = Parse(*bytes, &request);
    if (!reload_) {
      reactor->Finish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                   "model reload is off: start the server with --allow-reload"));
    } else if (grpc::Status allowed = access_.Check(*context, Permission::kReload); !allowed.ok()) {
      reactor->Finish(allowed);
    } else if (!parsed.ok()) {
      reactor->Finish(ToGrpcStatus(parsed));
    } else if (request.model_dir().empty()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "model_dir is empty"));
    } else {
      reload_(request.model_dir(), [reactor, response](absl::StatusOr<v1::ReloadResponse> result) {
        if (result.ok()) *response = Serialize(*result);
        reactor->Finish(ToGrpcStatus(result.status()));
      });
    }
    return reactor;
  }

 private:
  const int max_prompts_;
  const int64_t max_stream_backlog_bytes_;
  const ReloadFunction reload_;
  const AccessControl access_;
  std::atomic<bool> draining_{false};
  mutable std::mutex mu_;
  std::shared_ptr<Backend> backend_;
};

// One ScoreStream call. Each request read becomes a job; each finished job
// becomes one response, written one at a time in completion order. The
// reactor outlives the call (OnDone) until its last job has come back,
// because jobs hold a pointer to it.
class ScoreStreamReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  ScoreStreamReactor(DifficultyServiceImpl* service, grpc::CallbackServerContext* context)
      : service_(service), deadline_(SteadyDeadline(context->deadline())) {
    if (grpc::Status allowed = service->access().Check(*context, Permission::kScore); !allowed.ok()) {
      finished_ = true;
      Finish(allowed);
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      std::lock_guard<std::mutex> lock(mu_);
      reads_done_ = true;
      MaybeFinishLocked();
      return;
    }
    ++frames_read_;
    v1::ScoreRequest request;
    absl::Status parsed = Parse(request_, &request);
    if (parsed.ok()) {
      Submit(request);
    } else {
      ReplyError(request, absl::InvalidArgumentError(absl::StrCat("frame ", frames_read_, ": ", parsed.message())));
    }
    // Flow control: while the answers waiting for this client exceed the backlog bound, the stream's
    // requests are not read (HTTP/2 then holds the client's writes); a client that never reads
    // costs the bound, not every answer it asked for. OnWriteDone reads again once it drains.
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (BackloggedLocked()) {
        read_paused_ = true;
        return;
      }
    }
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    bool resume_reading = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      queued_write_bytes_ -= static_cast<int64_t>(writes_.front().Length());
      writes_.pop_front();
      if (!ok) {
        broken_ = true;
        ClearWritesLocked();
      }
      WriteNextLocked();
      MaybeFinishLocked();
      if (read_paused_ && !broken_ && !done_ && !BackloggedLocked()) {
        read_paused_ = false;
        resume_reading = true;
      }
    }
    if (resume_reading) StartRead(&request_);
  }

  void OnCancel() override { cancelled_ = true; }

  void OnDone() override {
    bool last;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      cancelled_ = true;
      ClearWritesLocked();  // never to be written: free them now, not when the last job returns
      last = outstanding_ == 0;
    }
    if (last) delete this;
  }

 private:
  void ReplyError(const v1::ScoreRequest& request, const absl::Status& status) {
    v1::ScoreStreamResponse response;
    response.set_request_id(request.request_id());
    response.mutable_error()->set_code(static_cast<int>(status.code()));
    response.mutable_error()->set_message(std::string(status.message()));
    std::lock_guard<std::mutex> lock(mu_);
    Push(response);
  }

  void Submit(const v1::ScoreRequest& request) {
    const auto start = Clock::now();
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++outstanding_;
    }
    absl::Status admitted = service_->Admit(
        std::make_shared<const v1::ScoreRequest>(request), start, deadline_, [this] { return cancelled_.load(); },
        [this, request_id = request.request_id()](const absl::Status& status, v1::ScoreResponse* answer) {
          v1::ScoreStreamResponse response;
          response.set_request_id(request_id);
          if (status.ok()) {
            response.mutable_response()->Swap(answer);
          } else {
            response.mutable_error()->set_code(static_cast<int>(status.code()));
            response.mutable_error()->set_message(std::string(status.message()));
          }
          bool last;
          {
            std::lock_guard<std::mutex> lock(mu_);
            --outstanding_;
            Push(response);
            last = done_ && outstanding_ == 0;
          }
          if (last) delete this;
        });
    if (!admitted.ok()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        --outstanding_;
      }
      ReplyError(request, admitted);
    }
  }

  // Queues a response, or drops it when the stream can no longer take
  // writes; either way the call may now be complete and must be finished.
  void Push(const v1::ScoreStreamResponse& response) {  // mu_ held
    if (!done_ && !broken_) {
      writes_.push_back(Serialize(response));
      queued_write_bytes_ += static_cast<int64_t>(writes_.back().Length());
      WriteNextLocked();
    }
    MaybeFinishLocked();
  }

  // Too much owed to this client to take more of its requests: answers waiting to be written past
  // the byte bound, or more frames unanswered (being scored or waiting) than one stream may hold.
  bool BackloggedLocked() const {
    return queued_write_bytes_ > service_->max_stream_backlog_bytes() ||
           outstanding_ + static_cast<int64_t>(writes_.size()) >= kMaxUnansweredFrames;
  }

  void ClearWritesLocked() {
    // The front may be in flight (writing_): gRPC holds its own reference to the buffer's slices.
    writes_.clear();
    queued_write_bytes_ = 0;
    writing_ = false;
  }

  void WriteNextLocked() {
    if (writing_ || writes_.empty() || done_ || finished_) return;
    writing_ = true;
    StartWrite(&writes_.front());
  }

  void MaybeFinishLocked() {
    if (finished_ || done_ || !reads_done_ || outstanding_ > 0 || writing_ || !writes_.empty()) return;
    finished_ = true;
    Finish(grpc::Status::OK);
  }

  // Pipelining enough for any client (the batcher batches across streams); a stream cannot fill the
  // admission queue on its own.
  static constexpr int64_t kMaxUnansweredFrames = 256;

  DifficultyServiceImpl* service_;
  const Clock::time_point deadline_;
  grpc::ByteBuffer request_;
  int64_t frames_read_ = 0;  // touched by OnReadDone only
  std::atomic<bool> cancelled_{false};

  std::mutex mu_;
  std::deque<grpc::ByteBuffer> writes_;  // serialized ScoreStreamResponses; front is being written while writing_
  int outstanding_ = 0;
  int64_t queued_write_bytes_ = 0;  // of writes_
  bool reads_done_ = false, writing_ = false, finished_ = false, done_ = false, broken_ = false;
  bool read_paused_ = false;  // a read is owed once the backlog drains (flow control)
};

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* DifficultyServiceImpl::ScoreStream(
    grpc::CallbackServerContext* context) {
  return new ScoreStreamReactor(this, context);
}

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
  if (!IsLoopbackAddress(options.address)) {
    if (!tls && !access->requires_token()) {
      spdlog::warn("****************************************************************");
      spdlog::warn("listening on {} without TLS or authentication: anyone who can reach the port", options.address);
      spdlog::warn("can call it. Add --tls-cert/--tls-key (and --tls-client-ca or --auth-tokens),");
      spdlog::warn("bind 127.0.0.1, or keep the port inside a private network.");
      spdlog::warn("****************************************************************");
    } else if (!tls) {
      spdlog::warn("listening on {} without TLS: bearer tokens and prompts cross the network in the clear",
                   options.address);
    }
  }
  std::unique_ptr<DifficultyServer> server(new DifficultyServer);
  if (options.allow_reload) {
    absl::StatusOr<std::string> root = ResolveReloadRoot(options.reload_root, options.model_dir);
    if (!root.ok()) return root.status();
    server->reload_root_ = *std::move(root);
    spdlog::info("Reload accepts model directories inside {}", QuotedPath(server->reload_root_));
  }
  DifficultyServer* raw = server.get();
  DifficultyServiceImpl::ReloadFunction reload;
  if (options.allow_reload) {
    reload = [raw, options](const std::string& model_dir, auto done) { raw->Reload(model_dir, options, std::move(done)); };
  }
  server->service_ = std::make_unique<DifficultyServiceImpl>(
      options.max_prompts_per_request, options.max_stream_backlog_bytes, std::move(reload), *std::move(access));

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
  return absl::OkStatus();
}

void DifficultyServer::Reload(const std::string& model_dir, const ServerOptions& options,
                              std::function<void(absl::StatusOr<v1::ReloadResponse>)> done) {
  std::lock_guard<std::mutex> lock(reload_mu_);
  if (reloading_) {
    done(absl::AbortedError("a reload is already in progress; retry when it has finished"));
    return;
  }
  if (reload_thread_.joinable()) reload_thread_.join();  // the previous reload, finished
  // Confined before any file is touched (server_options.h, --reload-root).
  absl::StatusOr<std::string> resolved = ResolveReloadPath(model_dir, reload_root_);
  if (!resolved.ok()) {
    spdlog::error("reload of {} refused: {}", QuotedPath(model_dir), absl::CHexEscape(resolved.status().message()));
    done(resolved.status());
    return;
  }
  reloading_ = true;
  reload_thread_ = std::thread([this, model_dir = *std::move(resolved), options, done = std::move(done)] {
    auto finish = [&](absl::StatusOr<v1::ReloadResponse> result) {
      {
        std::lock_guard<std::mutex> lock(reload_mu_);
        reloading_ = false;
      }
      done(std::move(result));
    };
    const auto start = Clock::now();
    std::shared_ptr<Backend> current = service_->backend();
    if (!current) return finish(absl::UnavailableError("the first model is still loading"));
    auto next = LoadBackend(model_dir, options.engine, options.batcher, metrics_.get());
    if (!next.ok()) {
      spdlog::error("reload of {} refused, still serving {}: {}", QuotedPath(model_dir),
                    current->engine->checkpoint().content_digest(), absl::CHexEscape(next.status().message()));
      return finish(next.status());
    }
    if (absl::Status shape = CheckSameShape(current->engine->config(), (*next)->engine->config(), model_dir);
        !shape.ok()) {
      spdlog::error("reload of {} refused: {}", QuotedPath(model_dir), absl::CHexEscape(shape.message()));
      return finish(shape);
    }
    v1::ReloadResponse response;
    response.set_model_name((*next)->engine->checkpoint().name());
    response.set_model_digest((*next)->engine->checkpoint().content_digest());
    response.set_previous_digest(current->engine->checkpoint().content_digest());
    response.set_load_ms(MillisSince(start));
    current.reset();
    metrics_->SetModel(model_dir, response.model_digest(), response.load_ms() / 1e3);
    std::shared_ptr<Backend> old = service_->SetBackend(*std::move(next));
    spdlog::info("reloaded {} in {:.0f} ms: {} -> {}", QuotedPath(model_dir), response.load_ms(), response.previous_digest(),
                 response.model_digest());
    // The calls the old model admitted finish on it before the reload answers, so the next reload
    // never waits for this one.
    RetireWhenIdle(std::move(old));
    finish(std::move(response));
  });
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
  if (reload_thread_.joinable()) reload_thread_.join();
  // The batcher (inside the backend) ends queued jobs before the service goes.
  if (service_) service_->SetBackend(nullptr);
}

}  // namespace sparsegate

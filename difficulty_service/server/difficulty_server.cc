#include "difficulty_service/server/difficulty_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>
#include <spdlog/spdlog.h>

#include <deque>

#include "absl/strings/str_cat.h"
#include "difficulty_service/common/clock.h"
#include "difficulty_service/model/blas_probe.h"
#include "difficulty_service/server/request_translation.h"
#include "sparsegate/v1/difficulty.grpc.pb.h"

#ifndef SPARSEGATE_VERSION
#define SPARSEGATE_VERSION "dev"
#endif

namespace sparsegate {
namespace {

using Clock = SteadyClock;
constexpr char kServiceName[] = "sparsegate.v1.DifficultyService";

Clock::time_point SteadyDeadline(std::chrono::system_clock::time_point deadline) {
  if (deadline == std::chrono::system_clock::time_point::max()) return Clock::time_point::max();
  auto left = deadline - std::chrono::system_clock::now();
  if (left > std::chrono::hours(24 * 365)) return Clock::time_point::max();
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(left);
}

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

// What exists once the model is loaded.
struct Backend {
  std::unique_ptr<ScoringEngine> engine;
  std::unique_ptr<Batcher> batcher;
};

}  // namespace

class DifficultyServiceImpl final : public v1::DifficultyService::CallbackService {
 public:
  explicit DifficultyServiceImpl(int max_prompts_per_request) : max_prompts_(max_prompts_per_request) {}

  void SetBackend(std::shared_ptr<Backend> backend) {
    std::lock_guard<std::mutex> lock(mu_);
    backend_ = std::move(backend);
  }
  std::shared_ptr<Backend> backend() const {
    std::lock_guard<std::mutex> lock(mu_);
    return backend_;
  }
  int max_prompts() const { return max_prompts_; }

  grpc::ServerUnaryReactor* Score(grpc::CallbackServerContext* context, const v1::ScoreRequest* request,
                                  v1::ScoreResponse* response) override {
    const auto start = Clock::now();
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    auto backend = this->backend();
    if (!backend) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the model is still loading"));
      return reactor;
    }
    auto job = JobFromRequest(*request, *backend->engine, max_prompts_);
    if (!job.ok()) {
      reactor->Finish(ToGrpcStatus(job.status()));
      return reactor;
    }
    (*job)->deadline = SteadyDeadline(context->deadline());
    (*job)->is_cancelled = [context] { return context->IsCancelled(); };
    // The callback must not own the backend: the last owner of the batcher
    // would then destroy it from the batcher's own worker thread.
    (*job)->on_done = [reactor, request, response, digest = backend->engine->checkpoint().content_digest(),
                       start](const absl::Status& status, ScoreJob& done) {
      if (status.ok()) FillResponse(*request, done, digest, MillisSince(start), response);
      reactor->Finish(ToGrpcStatus(status));
    };
    absl::Status admitted = backend->batcher->Submit(*std::move(job));
    if (!admitted.ok()) reactor->Finish(ToGrpcStatus(admitted));
    return reactor;
  }

  grpc::ServerBidiReactor<v1::ScoreRequest, v1::ScoreStreamResponse>* ScoreStream(
      grpc::CallbackServerContext* context) override;

  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context, const v1::InfoRequest*,
                                 v1::InfoResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    auto backend = this->backend();
    if (!backend) {
      reactor->Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the model is still loading"));
      return reactor;
    }
    const ScoringEngine& engine = *backend->engine;
    const ModelConfig& config = engine.config();
    response->set_model_name(engine.checkpoint().name());
    response->set_model_digest(engine.checkpoint().content_digest());
    response->set_architecture(config.architecture);
    response->set_model_type(config.model_type);
    response->set_num_layers(static_cast<int>(config.num_hidden_layers));
    response->set_num_hidden_states(static_cast<int>(config.num_hidden_layers) + 1);
    response->set_hidden_size(static_cast<int>(config.hidden_size));
    response->set_vocab_size(static_cast<int>(config.vocab_size));
    response->set_max_prompt_tokens(static_cast<int>(engine.max_prompt_tokens()));
    response->set_max_prompts_per_request(max_prompts_);
    response->set_service_version(SPARSEGATE_VERSION);
    response->set_has_chat_template(engine.has_chat_template());
    for (const auto& [layer, channels] : engine.detected_outliers()) {
      v1::LayerOutliers* outliers = response->add_detected_outliers();
      outliers->set_layer(layer);
      outliers->mutable_channels()->Add(channels.begin(), channels.end());
    }
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const int max_prompts_;
  mutable std::mutex mu_;
  std::shared_ptr<Backend> backend_;
};

// One ScoreStream call. Each request read becomes a job; each finished job
// becomes one response, written one at a time in completion order. The
// reactor outlives the call (OnDone) until its last job has come back,
// because jobs hold a pointer to it.
class ScoreStreamReactor final : public grpc::ServerBidiReactor<v1::ScoreRequest, v1::ScoreStreamResponse> {
 public:
  ScoreStreamReactor(DifficultyServiceImpl* service, grpc::CallbackServerContext* context)
      : service_(service), deadline_(SteadyDeadline(context->deadline())) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      std::lock_guard<std::mutex> lock(mu_);
      reads_done_ = true;
      MaybeFinishLocked();
      return;
    }
    Submit(request_);
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    writes_.pop_front();
    if (!ok) {
      broken_ = true;
      writes_.clear();
    }
    WriteNextLocked();
    MaybeFinishLocked();
  }

  void OnCancel() override { cancelled_ = true; }

  void OnDone() override {
    bool last;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      cancelled_ = true;
      last = outstanding_ == 0;
    }
    if (last) delete this;
  }

 private:
  void Submit(const v1::ScoreRequest& request) {
    const auto start = Clock::now();
    auto backend = service_->backend();
    auto reply_error = [&](const absl::Status& status) {
      v1::ScoreStreamResponse response;
      response.set_request_id(request.request_id());
      response.mutable_error()->set_code(static_cast<int>(status.code()));
      response.mutable_error()->set_message(std::string(status.message()));
      std::lock_guard<std::mutex> lock(mu_);
      Push(std::move(response));
    };
    if (!backend) return reply_error(absl::UnavailableError("the model is still loading"));
    auto job = JobFromRequest(request, *backend->engine, service_->max_prompts());
    if (!job.ok()) return reply_error(job.status());

    auto owned_request = std::make_shared<v1::ScoreRequest>(request);
    (*job)->deadline = deadline_;
    (*job)->is_cancelled = [this] { return cancelled_.load(); };
    (*job)->on_done = [this, owned_request, digest = backend->engine->checkpoint().content_digest(),
                       start](const absl::Status& status, ScoreJob& done) {
      v1::ScoreStreamResponse response;
      response.set_request_id(owned_request->request_id());
      if (status.ok()) {
        FillResponse(*owned_request, done, digest, MillisSince(start), response.mutable_response());
      } else {
        response.mutable_error()->set_code(static_cast<int>(status.code()));
        response.mutable_error()->set_message(std::string(status.message()));
      }
      bool last;
      {
        std::lock_guard<std::mutex> lock(mu_);
        --outstanding_;
        Push(std::move(response));
        last = done_ && outstanding_ == 0;
      }
      if (last) delete this;
    };
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++outstanding_;
    }
    absl::Status admitted = backend->batcher->Submit(*std::move(job));
    if (!admitted.ok()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        --outstanding_;
      }
      reply_error(admitted);
    }
  }

  // Queues a response, or drops it when the stream can no longer take
  // writes; either way the call may now be complete and must be finished.
  void Push(v1::ScoreStreamResponse response) {  // mu_ held
    if (!done_ && !broken_) {
      writes_.push_back(std::move(response));
      WriteNextLocked();
    }
    MaybeFinishLocked();
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

  DifficultyServiceImpl* service_;
  const Clock::time_point deadline_;
  v1::ScoreRequest request_;
  std::atomic<bool> cancelled_{false};

  std::mutex mu_;
  std::deque<v1::ScoreStreamResponse> writes_;  // front is being written while writing_
  int outstanding_ = 0;
  bool reads_done_ = false, writing_ = false, finished_ = false, done_ = false, broken_ = false;
};

grpc::ServerBidiReactor<v1::ScoreRequest, v1::ScoreStreamResponse>* DifficultyServiceImpl::ScoreStream(
    grpc::CallbackServerContext* context) {
  return new ScoreStreamReactor(this, context);
}

absl::StatusOr<std::unique_ptr<DifficultyServer>> DifficultyServer::Start(const ServerOptions& options) {
  if (absl::Status fields = CheckMetricFields(); !fields.ok()) return fields;
  std::unique_ptr<DifficultyServer> server(new DifficultyServer);
  server->service_ = std::make_unique<DifficultyServiceImpl>(options.max_prompts_per_request);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address, grpc::InsecureServerCredentials(), &server->port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || server->port_ == 0)
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.address));
  auto* health = server->server_->GetHealthCheckService();
  health->SetServingStatus(false);
  health->SetServingStatus(kServiceName, false);

  DifficultyServer* raw = server.get();
  server->ready_ = std::async(std::launch::async, [raw, options] { return raw->LoadModel(options); });
  return server;
}

absl::Status DifficultyServer::LoadModel(const ServerOptions& options) {
  const auto start = Clock::now();
  CheckBlasSpeed();
  auto backend = std::make_shared<Backend>();
  auto engine = ScoringEngine::Load(options.model_dir, options.engine);
  if (!engine.ok()) return engine.status();
  backend->engine = *std::move(engine);
  // Warm-up: the first forward pass pays for allocator and thread-pool start-up.
  PromptInput warm;
  warm.text = "Warm-up: 1 + 1 = 2.";
  auto prepared = backend->engine->Prepare(warm, /*truncate_left=*/true);
  if (!prepared.ok()) return absl::InternalError(absl::StrCat("warm-up prompt failed: ", prepared.status().message()));
  FeatureRequest request;
  request.layers = {backend->engine->config().num_hidden_layers > 0 ? static_cast<int>(backend->engine->config().num_hidden_layers) : 0};
  backend->engine->Run({&*prepared}, {&request});
  backend->batcher = std::make_unique<Batcher>(*backend->engine, options.batcher);
  service_->SetBackend(backend);
  auto* health = server_->GetHealthCheckService();
  health->SetServingStatus(true);
  health->SetServingStatus(kServiceName, true);
  spdlog::info("model {} loaded and warmed up in {:.0f} ms ({})", backend->engine->checkpoint().name(),
               MillisSince(start), backend->engine->checkpoint().content_digest());
  return absl::OkStatus();
}

absl::Status DifficultyServer::WaitUntilReady() {
  if (!ready_.valid()) return absl::FailedPreconditionError("WaitUntilReady() called twice");
  return ready_.get();
}

void DifficultyServer::Shutdown(std::chrono::milliseconds grace) {
  std::call_once(shutdown_once_, [&] {
    auto* health = server_->GetHealthCheckService();
    health->SetServingStatus(false);
    server_->Shutdown(std::chrono::system_clock::now() + grace);
    server_->Wait();
  });
}

DifficultyServer::~DifficultyServer() {
  if (ready_.valid()) ready_.wait();
  Shutdown();
  // The batcher (inside the backend) ends queued jobs before the service goes.
  if (service_) service_->SetBackend(nullptr);
}

}  // namespace sparsegate

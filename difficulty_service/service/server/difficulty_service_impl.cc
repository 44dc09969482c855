#include "difficulty_service/service/server/difficulty_service_impl.h"

#include "difficulty_service/service/server/request_translation.h"

#ifndef SPARSEGATE_VERSION
#define SPARSEGATE_VERSION "dev"
#endif

namespace sparsegate {

using Clock = SteadyClock;

Clock::time_point SteadyDeadline(std::chrono::system_clock::time_point deadline) {
  if (deadline == std::chrono::system_clock::time_point::max()) return Clock::time_point::max();
  auto left = deadline - std::chrono::system_clock::now();
  if (left > std::chrono::hours(24 * 365)) return Clock::time_point::max();
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(left);
}

grpc::ServerUnaryReactor* DifficultyServiceImpl::Score(grpc::CallbackServerContext* context,
                                                       const grpc::ByteBuffer* bytes, grpc::ByteBuffer* response) {
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

absl::Status DifficultyServiceImpl::Admit(std::shared_ptr<const v1::ScoreRequest> request, Clock::time_point start,
                                          Clock::time_point deadline, std::function<bool()> is_cancelled,
                                          AnswerFunction answer) {
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

grpc::ServerUnaryReactor* DifficultyServiceImpl::Info(grpc::CallbackServerContext* context,
                                                      const grpc::ByteBuffer* bytes, grpc::ByteBuffer* answer) {
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

grpc::ServerUnaryReactor* DifficultyServiceImpl::Reload(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* bytes, grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  v1::ReloadRequest request;
  absl::Status parsed = Parse(*bytes, &request);
  if (!reload_) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "model reload is off: start the server with --allow-reload"));
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

}  // namespace sparsegate

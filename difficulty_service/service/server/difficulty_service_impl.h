// DifficultyService's handlers: Score, ScoreStream (score_stream_reactor.h), Info and Reload, on
// the current backend (model and batcher), which a reload swaps. Each handler checks the caller's
// token, parses the request, and hands the work on without blocking; Score and ScoreStream share
// one admission path (Admit). DifficultyServer builds it and owns its lifecycle.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_DIFFICULTY_SERVICE_IMPL_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_DIFFICULTY_SERVICE_IMPL_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "difficulty_service/core/common/clock.h"
#include "difficulty_service/service/server/access_control.h"
#include "difficulty_service/service/server/backend.h"
#include "sparsegate/v1/difficulty.grpc.pb.h"

namespace sparsegate {

inline constexpr char kDrainingMessage[] = "the server is shutting down (draining); send this to another replica";

// A call's deadline on the steady clock; none (or more than a year away) is never.
SteadyClock::time_point SteadyDeadline(std::chrono::system_clock::time_point deadline);

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
                                  grpc::ByteBuffer* response) override;
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* ScoreStream(grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context, const grpc::ByteBuffer* bytes,
                                 grpc::ByteBuffer* answer) override;
  grpc::ServerUnaryReactor* Reload(grpc::CallbackServerContext* context, const grpc::ByteBuffer* bytes,
                                   grpc::ByteBuffer* response) override;

  // Called once per admitted request, from the batcher's worker: the request's answer when
  // `status` is OK (the callee may take it), nothing otherwise.
  using AnswerFunction = std::function<void(const absl::Status& status, v1::ScoreResponse* answer)>;

  // The admission path Score and ScoreStream share: a loaded model, not draining, a request that
  // translates into a job, and room in the batcher's bounds. OK: `answer` will be called once.
  // Otherwise the refusal, and `answer` is never called.
  // `start`: when the call began, for the response's server time.
  absl::Status Admit(std::shared_ptr<const v1::ScoreRequest> request, SteadyClock::time_point start,
                     SteadyClock::time_point deadline, std::function<bool()> is_cancelled, AnswerFunction answer);

 private:
  const int max_prompts_;
  const int64_t max_stream_backlog_bytes_;
  const ReloadFunction reload_;
  const AccessControl access_;
  std::atomic<bool> draining_{false};
  mutable std::mutex mu_;
  std::shared_ptr<Backend> backend_;
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_DIFFICULTY_SERVICE_IMPL_H_

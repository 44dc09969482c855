// DifficultyServiceImpl::ScoreStream: one reactor per stream, with its own write queue and flow
// control; each request read goes through the same admission path as Score (Admit).
#include <atomic>
#include <deque>
#include <mutex>

#include "difficulty_service/service/server/difficulty_service_impl.h"

namespace sparsegate {
namespace {

using Clock = SteadyClock;

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

}  // namespace

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* DifficultyServiceImpl::ScoreStream(
    grpc::CallbackServerContext* context) {
  return new ScoreStreamReactor(this, context);
}

}  // namespace sparsegate

// The server's life before and after the model: it listens at once, reports
// NOT_SERVING and answers UNAVAILABLE until the model is loaded and warmed
// up, and stays that way (never SERVING) when the checkpoint is broken.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <initializer_list>
#include <set>
#include <string>
#include <thread>

#include "difficulty_service/service/server/difficulty_server.h"
#include "health.grpc.pb.h"
#include "prometheus_text.h"
#include "sparsegate/v1/difficulty.grpc.pb.h"

namespace sparsegate {
namespace {

using grpc::health::v1::HealthCheckResponse;

HealthCheckResponse::ServingStatus Health(const std::string& address, const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.status();
}

std::unique_ptr<DifficultyServer> StartOn(const std::string& model) {
  ServerOptions options;
  options.model_dir = std::string(SPARSEGATE_TINY_DIR) + "/" + model;
  options.address = "127.0.0.1:0";
  auto server = DifficultyServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

// `server` never becomes ready, and says why with every one of `fragments`.
void ExpectNeverReady(DifficultyServer& server, std::initializer_list<const char*> fragments) {
  absl::Status ready = server.WaitUntilReady();
  EXPECT_FALSE(ready.ok());
  for (const char* fragment : fragments)
    EXPECT_NE(std::string(ready.message()).find(fragment), std::string::npos) << ready;
}

// The server at `address` is up but not serving: both health names say NOT_SERVING, and Score is
// UNAVAILABLE with a message holding `why`.
void ExpectNotServing(const std::string& address, const std::string& why) {
  EXPECT_EQ(Health(address, ""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Health(address, "sparsegate.v1.DifficultyService"), HealthCheckResponse::NOT_SERVING);
  auto stub = v1::DifficultyService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  v1::ScoreRequest request;
  request.add_prompts()->set_text("anyone there?");
  v1::ScoreResponse response;
  grpc::ClientContext context;
  grpc::Status status = stub->Score(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(status.error_message().find(why), std::string::npos) << status.error_message();
}

TEST(ServerLifecycle, BrokenCheckpointNeverServes) {
  auto server = StartOn("bad_shape");
  ASSERT_NE(server, nullptr);
  ExpectNeverReady(*server, {"model.layers.0.mlp.gate_proj.weight"});

  const std::string address = "127.0.0.1:" + std::to_string(server->port());
  ExpectNotServing(address, "still loading");
  auto stub = v1::DifficultyService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext info_context;
  v1::InfoResponse info;
  EXPECT_EQ(stub->Info(&info_context, v1::InfoRequest(), &info).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(ServerLifecycle, TokenizerIdsPastTheVocabularyAreRefusedAtStartUp) {
  // Used to load, then abort the whole process on the first prompt that hit such an id.
  auto server = StartOn("bad_vocab");
  ASSERT_NE(server, nullptr);
  ExpectNeverReady(*server, {"tokenizer.json: token ids go up to", "past config.json's vocab_size"});
}

TEST(ServerLifecycle, NonFiniteWeightsAreRefusedAtStartUp) {
  auto server = StartOn("bad_nan");  // used to serve NaN features
  ASSERT_NE(server, nullptr);
  ExpectNeverReady(*server, {"model.safetensors: tensor 'model.layers.0.mlp.up_proj.weight' holds NaN"});
}

TEST(ServerLifecycle, ARequestLimitAboveTheQueueIsRefusedAtStart) {
  // Used to start, then fail every large request forever with "queue is full (0 prompts waiting)".
  ServerOptions options;
  options.model_dir = std::string(SPARSEGATE_TINY_DIR) + "/tiny_qwen3";
  options.address = "127.0.0.1:0";
  options.max_prompts_per_request = 512;
  options.batcher.max_queued_prompts = 256;
  auto server = DifficultyServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(std::string(server.status().message()).find("--max-prompts-per-request (512) is above --max-queued-prompts (256)"),
            std::string::npos) << server.status();
}

TEST(ServerLifecycle, DrainingTurnsHealthNotServingAndSendsNewWorkAway) {
  // SIGTERM used to close the port at once: clients had no NOT_SERVING window to move away in.
  auto server = StartOn("tiny_qwen3");
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(server->WaitUntilReady().ok());
  const std::string address = "127.0.0.1:" + std::to_string(server->port());
  EXPECT_EQ(Health(address, "sparsegate.v1.DifficultyService"), HealthCheckResponse::SERVING);
  EXPECT_TRUE(server->Drain(std::chrono::seconds(5)));
  // Still listening: probes see NOT_SERVING, and new work is UNAVAILABLE (retried elsewhere).
  ExpectNotServing(address, "draining");
  server->Shutdown();
}

TEST(ServerLifecycle, ServesOnceReadyAndStopsServingOnShutdown) {
  auto server = StartOn("tiny_qwen3");
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(server->WaitUntilReady().ok());
  const std::string address = "127.0.0.1:" + std::to_string(server->port());
  EXPECT_EQ(Health(address, ""), HealthCheckResponse::SERVING);
  EXPECT_EQ(Health(address, "sparsegate.v1.DifficultyService"), HealthCheckResponse::SERVING);
  server->Shutdown(std::chrono::milliseconds(100));
}

TEST(ServerLifecycle, ShutsDownCleanlyWithWorkInFlight) {
  auto server = StartOn("tiny_qwen3");
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(server->WaitUntilReady().ok());
  const std::string address = "127.0.0.1:" + std::to_string(server->port());
  std::atomic<bool> started{false};
  std::vector<std::thread> clients;
  for (int c = 0; c < 3; ++c) {
    clients.emplace_back([&, c] {
      auto stub = v1::DifficultyService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
      if (c == 0) {  // a stream that is still writing when the server goes
        auto stream = stub->ScoreStream(&context);
        for (int i = 0; i < 50; ++i) {
          v1::ScoreRequest r;
          for (int k = 0; k < 8; ++k) r.add_prompts()->set_text("in flight " + std::to_string(i * 8 + k));
          started = true;
          if (!stream->Write(r)) break;
        }
        stream->WritesDone();
        v1::ScoreStreamResponse ignored;
        while (stream->Read(&ignored)) {
        }
        stream->Finish();
      } else {  // unary calls
        for (int i = 0; i < 20; ++i) {
          v1::ScoreRequest r;
          for (int k = 0; k < 8; ++k) r.add_prompts()->set_text("unary " + std::to_string(k));
          v1::ScoreResponse response;
          grpc::ClientContext call;
          started = true;
          if (!stub->Score(&call, r, &response).ok()) break;
        }
      }
    });
  }
  while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  server->Shutdown(std::chrono::milliseconds(50));
  server.reset();  // must neither hang nor crash with jobs still queued
  for (auto& t : clients) t.join();
}

TEST(ServerLifecycle, AStreamWhoseClientDoesNotReadStopsBeingReadThenCatchesUp) {
  ServerOptions options;
  options.model_dir = std::string(SPARSEGATE_TINY_DIR) + "/tiny_qwen3";
  options.address = "127.0.0.1:0";
  options.max_stream_backlog_bytes = 16 << 10;  // a dozen answers with hidden vectors
  auto started = DifficultyServer::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  DifficultyServer& server = **started;
  ASSERT_TRUE(server.WaitUntilReady().ok());
  // The client's receive window kept at 64 KiB (no BDP growth), so that unread answers back up into
  // the server within a few dozen frames, as megabyte answers of a large model would.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 << 10);
  auto stub = v1::DifficultyService::NewStub(grpc::CreateCustomChannel(
      "127.0.0.1:" + std::to_string(server.port()), grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  auto stream = stub->ScoreStream(&context);
  constexpr int kFrames = 2000;
  std::thread writer([&] {
    for (int i = 0; i < kFrames; ++i) {
      v1::ScoreRequest request;
      request.set_request_id(std::to_string(i));
      request.add_prompts()->set_text("What is 12 + 30?");
      request.mutable_options()->set_return_hidden(true);
      for (int layer : {0, 1, 2, 3}) request.mutable_options()->add_layers(layer);
      if (!stream->Write(request)) return;
    }
    stream->WritesDone();
  });
  // The client reads nothing. The server scores what it read, its answers fill the client's
  // window and then the stream's backlog, and it stops reading: the prompts it finished are bounded
  // by the window, the backlog and the unanswered frames a stream may hold (256), not the 2,000 sent.
  auto finished = [&] {
    double prompts = 0;
    for (const auto& [key, value] : testing::ParsePrometheusText(server.metrics().Render()))
      if (key.rfind("sparsegate_prompts_total", 0) == 0) prompts += value;
    return prompts;
  };
  // Until the count stops moving for a second (a loaded machine gets there later), at most 60 s.
  double before = -1, while_unread = finished();
  for (int waited = 0; while_unread != before && waited < 60; ++waited) {
    before = while_unread;
    std::this_thread::sleep_for(std::chrono::seconds(1));
    while_unread = finished();
  }
  std::printf("prompts scored while the client read nothing: %.0f of %d\n", while_unread, kFrames);
  EXPECT_EQ(while_unread, before) << "the server went on reading a stream whose client does not read";
  EXPECT_LE(while_unread, 400);
  EXPECT_GT(while_unread, 0);
  // Reading again, every frame is answered, each under its own request id.
  std::set<std::string> answered;
  v1::ScoreStreamResponse response;
  while (stream->Read(&response)) {
    EXPECT_TRUE(response.has_response()) << response.error().message();
    answered.insert(response.request_id());
  }
  writer.join();
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(answered.size(), static_cast<size_t>(kFrames));
  EXPECT_EQ(finished(), kFrames);
}

}  // namespace
}  // namespace sparsegate

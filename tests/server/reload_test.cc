// The Reload call on the real server binary: off unless --allow-reload; a switch under concurrent
// load answers every call, each response names the model that scored it, and calls after the
// switch get the new model; a checkpoint that does not load leaves the old model serving, with an
// error naming the file. CheckSameShape, which refuses a model of another shape, on its own.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "difficulty_service/service/server/backend.h"
#include "server_process.h"
#include "sparsegate/v1/difficulty.grpc.pb.h"

namespace sparsegate {
namespace {

using testing::ServerProcess;

std::string ModelDir(const std::string& name) { return std::string(SPARSEGATE_TINY_DIR) + "/" + name; }

// Reload needs a token allowed to reload (access_control.h); every call of these tests carries it.
constexpr char kToken[] = "reload-test-token-0123456789";

std::vector<std::string> ReloadFlags() {
  static const std::string file = [] {
    // Per process: CTest runs these tests side by side, and a file being rewritten reads empty.
    std::string path = ::testing::TempDir() + "/reload_test_tokens_" + std::to_string(::getpid());
    std::ofstream(path) << kToken << " score reload\n";
    return path;
  }();
  return {"--allow-reload", "--auth-tokens", file};
}

void Authorize(grpc::ClientContext* context) { context->AddMetadata("authorization", std::string("Bearer ") + kToken); }

std::unique_ptr<v1::DifficultyService::Stub> Stub(const std::string& address) {
  return v1::DifficultyService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
}

grpc::Status Reload(v1::DifficultyService::Stub& stub, const std::string& model_dir, v1::ReloadResponse* response) {
  grpc::ClientContext context;
  Authorize(&context);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::ReloadRequest request;
  request.set_model_dir(model_dir);
  return stub.Reload(&context, request, response);
}

std::string Digest(v1::DifficultyService::Stub& stub) {
  grpc::ClientContext context;
  Authorize(&context);
  v1::InfoResponse info;
  EXPECT_TRUE(stub.Info(&context, v1::InfoRequest(), &info).ok());
  return info.model_digest();
}

v1::ScoreRequest OnePrompt(const std::string& text) {
  v1::ScoreRequest request;
  request.add_prompts()->set_text(text);
  request.mutable_options()->add_layers(-1);
  return request;
}

TEST(Reload, IsOffUnlessTheServerAllowsIt) {
  ServerProcess server(SPARSEGATE_BIN, ModelDir("tiny_qwen3"));
  ASSERT_TRUE(server.ok()) << server.log();
  auto stub = Stub(server.address());
  v1::ReloadResponse response;
  grpc::Status status = Reload(*stub, ModelDir("tiny_qwen3_seed1"), &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(status.error_message().find("--allow-reload"), std::string::npos);
}

TEST(Reload, SwitchesUnderConcurrentLoadWithoutLosingACall) {
  ServerProcess server(SPARSEGATE_BIN, ModelDir("tiny_qwen3"), ReloadFlags());
  ASSERT_TRUE(server.ok()) << server.log();
  auto stub = Stub(server.address());
  const std::string before = Digest(*stub);

  // Four clients calling with the same prompt from before the switch until 10 calls each after it
  // (bounded: at most kMaxCallsEach calls each).
  constexpr int kClients = 4, kMaxCallsEach = 5000, kCallsAfter = 10;
  std::atomic<int> sent{0};
  std::atomic<int> failed{0};
  std::mutex mu;
  std::map<std::string, float> metric_by_digest;  // the same prompt on each model
  std::map<std::string, int> calls_by_digest;
  std::atomic<bool> reloaded{false};
  std::vector<std::string> after_switch;  // digests of calls started after the reload answered
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&] {
      auto own = Stub(server.address());
      int after = 0;
      for (int i = 0; i < kMaxCallsEach && after < kCallsAfter; ++i) {
        const bool late = reloaded.load();
        after += late;
        ++sent;
        grpc::ClientContext context;
        Authorize(&context);
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        v1::ScoreResponse response;
        grpc::Status status = own->Score(&context, OnePrompt("the quick brown fox adds 2 + 2"), &response);
        if (!status.ok()) {
          ++failed;
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        ++calls_by_digest[response.model_digest()];
        metric_by_digest[response.model_digest()] = response.results(0).features(0).metrics().top10_energy();
        if (late) after_switch.push_back(response.model_digest());
      }
    });
  }
  while (sent.load() < 4 * kClients) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  v1::ReloadResponse reload;
  grpc::Status status = Reload(*stub, ModelDir("tiny_qwen3_seed1"), &reload);
  reloaded = true;
  for (auto& t : clients) t.join();

  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << server.log();
  EXPECT_EQ(reload.previous_digest(), before);
  EXPECT_NE(reload.model_digest(), before);
  EXPECT_EQ(Digest(*stub), reload.model_digest());
  EXPECT_EQ(failed.load(), 0);
  int answered = 0;
  for (const auto& [digest, n] : calls_by_digest) {
    EXPECT_TRUE(digest == before || digest == reload.model_digest()) << digest;
    answered += n;
  }
  EXPECT_EQ(answered, sent.load());
  EXPECT_GT(calls_by_digest[before], 0) << "no call was answered by the old model: the switch was not under load";
  for (const std::string& digest : after_switch) EXPECT_EQ(digest, reload.model_digest());
  ASSERT_EQ(metric_by_digest.count(reload.model_digest()), 1u);
  EXPECT_NE(metric_by_digest[before], metric_by_digest[reload.model_digest()]);  // other weights, other features
}

TEST(Reload, ABadCheckpointLeavesTheOldModelServing) {
  ServerProcess server(SPARSEGATE_BIN, ModelDir("tiny_qwen3"), ReloadFlags());
  ASSERT_TRUE(server.ok()) << server.log();
  auto stub = Stub(server.address());
  const std::string before = Digest(*stub);
  for (const std::string& bad : {"bad_header", "bad_shape", "bad_no_config", "does_not_exist"}) {
    v1::ReloadResponse response;
    grpc::Status status = Reload(*stub, ModelDir(bad), &response);
    EXPECT_FALSE(status.ok()) << bad;
    EXPECT_NE(status.error_message().find(bad), std::string::npos) << bad << ": " << status.error_message();
    EXPECT_EQ(Digest(*stub), before) << bad;
    grpc::ClientContext context;
    Authorize(&context);
    v1::ScoreResponse scored;
    EXPECT_TRUE(stub->Score(&context, OnePrompt("still serving"), &scored).ok()) << bad;
    EXPECT_EQ(scored.model_digest(), before);
  }
  v1::ReloadResponse response;
  EXPECT_EQ(Reload(*stub, "", &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST(CheckSameShape, RefusesAnotherLayerCountOrWidthNamingTheField) {
  ModelConfig current;
  current.num_hidden_layers = 4;
  current.hidden_size = 64;
  ModelConfig next = current;
  EXPECT_TRUE(CheckSameShape(current, next, "m").ok());
  next.num_hidden_layers = 6;
  absl::Status deeper = CheckSameShape(current, next, "/ckpt/step-9");
  EXPECT_EQ(deeper.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(deeper.message().find("/ckpt/step-9/config.json: num_hidden_layers is 6"), std::string::npos)
      << deeper.message();
  next = current;
  next.hidden_size = 128;
  EXPECT_NE(CheckSameShape(current, next, "m").message().find("hidden_size"), std::string::npos);
}

}  // namespace
}  // namespace sparsegate

// The server's life before and after the model: it listens at once, reports
// NOT_SERVING and answers UNAVAILABLE until the model is loaded and warmed
// up, and stays that way (never SERVING) when the checkpoint is broken.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "difficulty_service/server/difficulty_server.h"
#include "health.grpc.pb.h"
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

TEST(ServerLifecycle, BrokenCheckpointNeverServes) {
  auto server = StartOn("bad_shape");
  ASSERT_NE(server, nullptr);
  absl::Status ready = server->WaitUntilReady();
  EXPECT_FALSE(ready.ok());
  EXPECT_NE(std::string(ready.message()).find("model.layers.0.mlp.gate_proj.weight"), std::string::npos) << ready;

  const std::string address = "127.0.0.1:" + std::to_string(server->port());
  EXPECT_EQ(Health(address, ""), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(Health(address, "sparsegate.v1.DifficultyService"), HealthCheckResponse::NOT_SERVING);

  auto stub = v1::DifficultyService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  v1::ScoreRequest request;
  request.add_prompts()->set_text("anyone there?");
  v1::ScoreResponse response;
  grpc::ClientContext score_context;
  grpc::Status status = stub->Score(&score_context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(status.error_message().find("still loading"), std::string::npos) << status.error_message();
  grpc::ClientContext info_context;
  v1::InfoResponse info;
  EXPECT_EQ(stub->Info(&info_context, v1::InfoRequest(), &info).error_code(), grpc::StatusCode::UNAVAILABLE);
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

}  // namespace
}  // namespace sparsegate

// The Prometheus endpoint of a real server on loopback, scraped over HTTP while clients call it
// and once they are done: every counter agrees with the calls the test made and the answers it got.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "difficulty_service/service/server/difficulty_server.h"
#include "prometheus_text.h"
#include "sparsegate/v1/difficulty.grpc.pb.h"

namespace sparsegate {
namespace {

namespace http = boost::beast::http;

struct Scrape {
  int status = 0;
  std::string content_type, body;
};

Scrape Get(int port, const std::string& target, http::verb verb = http::verb::get) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  boost::beast::tcp_stream stream(io);
  stream.connect(resolver.resolve("127.0.0.1", std::to_string(port)));
  http::request<http::empty_body> request(verb, target, 11);
  request.set(http::field::host, "127.0.0.1");
  http::write(stream, request);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  return {static_cast<int>(response.result_int()), std::string(response[http::field::content_type]), response.body()};
}

TEST(Metrics, CountersAgreeWithTheCallsMadeUnderLoad) {
  ServerOptions options;
  options.model_dir = std::string(SPARSEGATE_TINY_DIR) + "/tiny_qwen3";
  options.address = "127.0.0.1:0";
  options.metrics_address = "127.0.0.1:0";
  options.batcher.max_queued_prompts = 8;  // four clients of four prompts each overflow it now and then
  options.max_prompts_per_request = 4;
  auto started = DifficultyServer::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  DifficultyServer& server = **started;
  ASSERT_TRUE(server.WaitUntilReady().ok());
  ASSERT_GT(server.metrics_port(), 0);
  const std::string address = "127.0.0.1:" + std::to_string(server.port());

  constexpr int kClients = 4, kCalls = 12, kPrompts = 4, kBad = 3;
  std::mutex mu;
  std::map<grpc::StatusCode, int> answers;
  std::atomic<bool> load_done{false};
  std::atomic<int> scrapes_under_load{0};
  std::thread scraper([&] {
    while (!load_done) {
      Scrape s = Get(server.metrics_port(), "/metrics");
      EXPECT_EQ(s.status, 200);
      EXPECT_NE(s.body.find("sparsegate_requests_total"), std::string::npos);
      ++scrapes_under_load;
    }
  });
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto stub = v1::DifficultyService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
      for (int i = 0; i < kCalls; ++i) {
        v1::ScoreRequest request;
        for (int p = 0; p < kPrompts; ++p)
          request.add_prompts()->set_text("client " + std::to_string(c) + " call " + std::to_string(i) + " prompt " + std::to_string(p));
        v1::ScoreResponse response;
        grpc::ClientContext context;
        grpc::Status status = stub->Score(&context, request, &response);
        std::lock_guard<std::mutex> lock(mu);
        ++answers[status.error_code()];
      }
    });
  }
  for (auto& t : clients) t.join();
  load_done = true;
  scraper.join();
  auto stub = v1::DifficultyService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  for (int i = 0; i < kBad; ++i) {  // an empty prompt fails its whole request with INVALID_ARGUMENT
    v1::ScoreRequest request;
    request.add_prompts()->set_text("fine");
    request.add_prompts()->set_text("");
    v1::ScoreResponse response;
    grpc::ClientContext context;
    ASSERT_EQ(stub->Score(&context, request, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  v1::InfoResponse info;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub->Info(&context, v1::InfoRequest(), &info).ok());
  }

  Scrape scrape = Get(server.metrics_port(), "/metrics");
  ASSERT_EQ(scrape.status, 200);
  EXPECT_EQ(scrape.content_type, "text/plain; version=0.0.4; charset=utf-8");
  auto m = testing::ParsePrometheusText(scrape.body);
  const int ok = answers[grpc::StatusCode::OK], exhausted = answers[grpc::StatusCode::RESOURCE_EXHAUSTED];
  EXPECT_EQ(ok + exhausted, kClients * kCalls) << "only OK and RESOURCE_EXHAUSTED were expected";
  EXPECT_GT(ok, 0);
  EXPECT_GT(scrapes_under_load.load(), 0);
  const std::string score = "sparsegate_requests_total{method=\"sparsegate.v1.DifficultyService/Score\",code=\"";
  EXPECT_EQ(m[score + "OK\"}"], ok);
  EXPECT_EQ(m[score + "RESOURCE_EXHAUSTED\"}"], exhausted);
  EXPECT_EQ(m[score + "INVALID_ARGUMENT\"}"], kBad);
  EXPECT_EQ(m["sparsegate_requests_total{method=\"sparsegate.v1.DifficultyService/Info\",code=\"OK\"}"], 1);
  EXPECT_EQ(m["sparsegate_prompts_total{code=\"OK\"}"], ok * kPrompts);
  EXPECT_EQ(m["sparsegate_prompts_total{code=\"RESOURCE_EXHAUSTED\"}"], exhausted * kPrompts);
  EXPECT_EQ(m["sparsegate_prompts_total{code=\"INVALID_ARGUMENT\"}"], kBad * 2);
  EXPECT_EQ(m["sparsegate_admission_rejections_total{bound=\"prompts\"}"], exhausted);
  // Every scored prompt was in exactly one forward pass; the warm-up pass ran before the batcher.
  EXPECT_EQ(m["sparsegate_batch_prompts_sum"], ok * kPrompts);
  EXPECT_EQ(m["sparsegate_batch_prompts_count"], m["sparsegate_batches_total"]);
  EXPECT_EQ(m["sparsegate_forward_seconds_count"], m["sparsegate_batches_total"]);
  EXPECT_GE(m["sparsegate_batches_total"], ok * kPrompts / options.batcher.max_batch_prompts);
  EXPECT_GT(m["sparsegate_tokens_total"], 0);
  EXPECT_GE(m["sparsegate_padded_tokens_total"], m["sparsegate_tokens_total"]);
  EXPECT_GT(m["sparsegate_computed_tokens_total"], 0);
  EXPECT_LE(m["sparsegate_computed_tokens_total"], m["sparsegate_tokens_total"]);
  EXPECT_EQ(m["sparsegate_tokenize_seconds_count"], ok);  // refused jobs never tokenize, bad ones fail in it
  EXPECT_EQ(m["sparsegate_queue_seconds_count"], ok);
  EXPECT_EQ(m["sparsegate_queue_prompts"], 0);
  EXPECT_EQ(m["sparsegate_model_info{model_dir=\"" + options.model_dir + "\",digest=\"" + info.model_digest() + "\"}"], 1);
  EXPECT_GT(m["sparsegate_model_load_seconds"], 0);
  EXPECT_EQ(m["sparsegate_cache_hits_total"], 0);

  EXPECT_EQ(Get(server.metrics_port(), "/").status, 404);
  EXPECT_EQ(Get(server.metrics_port(), "/metrics", http::verb::post).status, 405);
  server.Shutdown();
}

// 40 shared token ids, then 8 of the prompt's own.
v1::ScoreRequest SharedPrefixRequest(const std::vector<int>& suffixes) {
  v1::ScoreRequest request;
  for (int suffix : suffixes) {
    auto* ids = request.add_prompts()->mutable_tokens();
    for (int t = 0; t < 40; ++t) ids->add_ids(100 + t);
    for (int t = 0; t < 8; ++t) ids->add_ids(200 + suffix * 8 + t);
  }
  return request;
}

TEST(Metrics, PrefixSharingAndThePrefixCacheAreCounted) {
  for (const bool cached : {true, false}) {
    SCOPED_TRACE(cached ? "prefix cache on" : "prefix cache off");
    ServerOptions options;
    options.model_dir = std::string(SPARSEGATE_TINY_DIR) + "/tiny_qwen3";
    options.address = "127.0.0.1:0";
    options.metrics_address = "127.0.0.1:0";
    options.engine.prefix_cache_bytes = cached ? int64_t{64} << 20 : 0;
    auto started = DifficultyServer::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    DifficultyServer& server = **started;
    ASSERT_TRUE(server.WaitUntilReady().ok());
    auto stub = v1::DifficultyService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(server.port()), grpc::InsecureChannelCredentials()));
    auto score = [&](const std::vector<int>& suffixes) {
      v1::ScoreResponse response;
      grpc::ClientContext context;
      ASSERT_TRUE(stub->Score(&context, SharedPrefixRequest(suffixes), &response).ok());
    };
    auto scrape = [&] { return testing::ParsePrometheusText(Get(server.metrics_port(), "/metrics").body); };

    // One prompt per call, so one per forward pass: only the cache can save anything. The first
    // prompt's two full 16-token blocks of the shared 40 are seen, the second's are stored, and the
    // next three take them (32 tokens each) and compute their last 16.
    for (int i = 0; i < 5; ++i) score({i});
    auto m = scrape();
    EXPECT_EQ(m["sparsegate_tokens_total"], 5 * 48);
    EXPECT_EQ(m["sparsegate_batches_total"], 5);
    EXPECT_EQ(m["sparsegate_prefix_cache_hit_tokens_total"], cached ? 3 * 32 : 0);
    EXPECT_EQ(m["sparsegate_computed_tokens_total"], cached ? 2 * 48 + 3 * 16 : 5 * 48);
    EXPECT_EQ(m["sparsegate_prefix_cache_stored_blocks_total"], cached ? 2 : 0);
    EXPECT_EQ(m["sparsegate_prefix_cache_evicted_blocks_total"], 0);
    EXPECT_EQ(m["sparsegate_prefix_cache_blocks"], cached ? 2 : 0);
    if (cached) {
      EXPECT_GT(m["sparsegate_prefix_cache_bytes"], 0);
    } else {
      EXPECT_EQ(m["sparsegate_prefix_cache_bytes"], 0);
    }

    // Four new prompts in one call, one forward pass: without the cache the shared 40 tokens run
    // once for the four; with it, each takes 32 from the cache and computes its last 16 (a prompt
    // continued from the cache is its own segment, not shared further within the batch).
    score({10, 11, 12, 13});
    m = scrape();
    EXPECT_EQ(m["sparsegate_batches_total"], 6);
    EXPECT_EQ(m["sparsegate_tokens_total"], 9 * 48);
    EXPECT_EQ(m["sparsegate_computed_tokens_total"], cached ? 2 * 48 + 3 * 16 + 4 * 16 : 5 * 48 + 40 + 4 * 8);
    EXPECT_EQ(m["sparsegate_prefix_cache_hit_tokens_total"], cached ? 7 * 32 : 0);
    server.Shutdown();
  }
}

TEST(Metrics, AnAddressThatCannotBeUsedIsAnError) {
  ServerOptions options;
  options.model_dir = std::string(SPARSEGATE_TINY_DIR) + "/tiny_qwen3";
  options.address = "127.0.0.1:0";
  options.metrics_address = "no-port";
  auto server = DifficultyServer::Start(options);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(server.status().message().find("no-port"), std::string::npos) << server.status();
}

}  // namespace
}  // namespace sparsegate

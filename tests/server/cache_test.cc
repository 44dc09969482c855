// The result cache on a real server on loopback: a repeated prompt is answered without a forward
// pass with features identical to the first answer's, a prompt asked with other options is not,
// and after a Reload no entry of the old model is ever served.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>

#include "difficulty_service/service/server/difficulty_server.h"
#include "prometheus_text.h"
#include "sparsegate/v1/difficulty.grpc.pb.h"

namespace sparsegate {
namespace {

constexpr char kToken[] = "cache-test-token-0123456789";

std::string ModelDir(const std::string& name) { return std::string(SPARSEGATE_TINY_DIR) + "/" + name; }

std::unique_ptr<DifficultyServer> Start(const std::string& model, int64_t cache_bytes, bool allow_reload = false) {
  ServerOptions options;
  options.model_dir = ModelDir(model);
  options.address = "127.0.0.1:0";
  options.batcher.cache_bytes = cache_bytes;
  if (allow_reload) {
    const std::string tokens = ::testing::TempDir() + "/cache_test_tokens_" + std::to_string(::getpid());
    std::ofstream(tokens) << kToken << " score reload\n";
    options.security.auth_tokens_file = tokens;
    options.allow_reload = true;
  }
  auto server = DifficultyServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  EXPECT_TRUE((*server)->WaitUntilReady().ok());
  return *std::move(server);
}

class Client {
 public:
  explicit Client(const DifficultyServer& server)
      : stub_(v1::DifficultyService::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(server.port()),
                                                                 grpc::InsecureChannelCredentials()))) {}

  v1::ScoreResponse Score(const std::vector<std::string>& texts, std::vector<int> layers = {-1, 0}) {
    v1::ScoreRequest request;
    for (const auto& t : texts) request.add_prompts()->set_text(t);
    for (int l : layers) request.mutable_options()->add_layers(l);
    request.mutable_options()->add_poolings(v1::POOLING_LAST_TOKEN);
    request.mutable_options()->add_poolings(v1::POOLING_MEAN);
    request.mutable_options()->set_return_hidden(true);
    v1::ScoreResponse response;
    grpc::ClientContext context;
    context.AddMetadata("authorization", std::string("Bearer ") + kToken);
    grpc::Status status = stub_->Score(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  grpc::Status Reload(const std::string& model_dir) {
    v1::ReloadRequest request;
    request.set_model_dir(model_dir);
    v1::ReloadResponse response;
    grpc::ClientContext context;
    context.AddMetadata("authorization", std::string("Bearer ") + kToken);
    return stub_->Reload(&context, request, &response);
  }

 private:
  std::unique_ptr<v1::DifficultyService::Stub> stub_;
};

// Every result's bytes (features, hidden vectors, counts), timing aside.
std::vector<std::string> Results(const v1::ScoreResponse& response) {
  std::vector<std::string> out;
  for (const auto& r : response.results()) out.push_back(r.SerializeAsString());
  return out;
}

// One result's features and counts, without its position in the request.
std::string Features(v1::PromptResult result) {
  result.clear_index();
  result.clear_id();
  return result.SerializeAsString();
}

// The largest difference between two results' metrics and hidden vectors.
double LargestDifference(const v1::PromptResult& a, const v1::PromptResult& b) {
  EXPECT_EQ(a.features_size(), b.features_size());
  double worst = 0;
  for (int f = 0; f < std::min(a.features_size(), b.features_size()); ++f) {
    const auto& x = a.features(f);
    const auto& y = b.features(f);
    const auto* mx = x.metrics().GetReflection();
    for (int i = 0; i < x.metrics().GetDescriptor()->field_count(); ++i) {
      const auto* field = x.metrics().GetDescriptor()->field(i);
      if (field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_FLOAT) continue;
      worst = std::max<double>(worst, std::abs(mx->GetFloat(x.metrics(), field) - mx->GetFloat(y.metrics(), field)));
    }
    EXPECT_EQ(x.hidden_size(), y.hidden_size());
    for (int i = 0; i < std::min(x.hidden_size(), y.hidden_size()); ++i)
      worst = std::max<double>(worst, std::abs(x.hidden(i) - y.hidden(i)));
  }
  return worst;
}

double Metric(const DifficultyServer& server, const std::string& name) {
  return testing::ParsePrometheusText(server.metrics().Render())[name];
}

const std::vector<std::string> kPrompts = {"What is 12 + 7?", "Compute 3 * (4 + 5).", "Is 91 prime?",
                                           "Solve x + 3 = 10.", "What is 2^10?", "Divide 144 by 12."};

TEST(ResultCache, ARepeatIsAnsweredWithIdenticalFeaturesAndNoForwardPass) {
  auto server = Start("tiny_qwen3", 64 << 20);
  ASSERT_NE(server, nullptr);
  Client client(*server);
  const v1::ScoreResponse first = client.Score(kPrompts);
  ASSERT_EQ(first.results_size(), 6);
  EXPECT_EQ(Metric(*server, "sparsegate_cache_misses_total"), 6);
  EXPECT_EQ(Metric(*server, "sparsegate_cache_hits_total"), 0);
  const double batches = Metric(*server, "sparsegate_batches_total");
  EXPECT_GT(Metric(*server, "sparsegate_cache_bytes"), 0);

  const v1::ScoreResponse again = client.Score(kPrompts);
  EXPECT_EQ(Results(again), Results(first));
  EXPECT_EQ(again.model_digest(), first.model_digest());
  EXPECT_EQ(Metric(*server, "sparsegate_cache_hits_total"), 6);
  EXPECT_EQ(Metric(*server, "sparsegate_batches_total"), batches) << "a hit ran a forward pass";

  // Other options are another key: a miss, and a forward pass.
  const v1::ScoreResponse last_layer_only = client.Score(kPrompts, {-1});
  EXPECT_EQ(Metric(*server, "sparsegate_cache_misses_total"), 12);
  EXPECT_GT(Metric(*server, "sparsegate_batches_total"), batches);
  ASSERT_EQ(last_layer_only.results(0).features_size(), 2);

  // Old and new prompts in one request: the old from the cache, bit for bit, in request order.
  const v1::ScoreResponse mixed = client.Score({kPrompts[4], "A new one: 5 - 9?", kPrompts[1]});
  EXPECT_EQ(Metric(*server, "sparsegate_cache_hits_total"), 8);
  EXPECT_EQ(Metric(*server, "sparsegate_cache_misses_total"), 13);
  ASSERT_EQ(mixed.results_size(), 3);
  EXPECT_EQ(mixed.results(2).index(), 2);
  EXPECT_EQ(Features(mixed.results(0)), Features(first.results(4)));
  EXPECT_EQ(Features(mixed.results(2)), Features(first.results(1)));
  // A server without a cache scores them in another batch. A prompt's features depend on its batch
  // in the last bits (the BLAS blocks a [B, T] product by its shape), so equal only to rounding.
  auto uncached_server = Start("tiny_qwen3", 0);
  ASSERT_NE(uncached_server, nullptr);
  Client uncached(*uncached_server);
  const v1::ScoreResponse fresh = uncached.Score({kPrompts[4], "A new one: 5 - 9?", kPrompts[1]});
  for (int i = 0; i < 3; ++i) EXPECT_LT(LargestDifference(mixed.results(i), fresh.results(i)), 1e-4) << i;
  EXPECT_EQ(Metric(*uncached_server, "sparsegate_cache_hits_total"), 0);
  EXPECT_EQ(Metric(*uncached_server, "sparsegate_cache_misses_total"), 0);
}

TEST(ResultCache, AReloadNeverServesAnEntryOfTheOldModel) {
  auto server = Start("tiny_qwen3", 64 << 20, /*allow_reload=*/true);
  ASSERT_NE(server, nullptr);
  Client client(*server);
  const v1::ScoreResponse old_model = client.Score(kPrompts);
  ASSERT_EQ(Results(client.Score(kPrompts)), Results(old_model));  // cached
  ASSERT_TRUE(client.Reload(ModelDir("tiny_qwen3_seed1")).ok());

  const v1::ScoreResponse after = client.Score(kPrompts);
  EXPECT_NE(after.model_digest(), old_model.model_digest());
  auto fresh_server = Start("tiny_qwen3_seed1", 0);
  ASSERT_NE(fresh_server, nullptr);
  Client fresh(*fresh_server);
  const v1::ScoreResponse expected = fresh.Score(kPrompts);  // the same batch: the same bits
  EXPECT_EQ(Results(after), Results(expected));
  for (int i = 0; i < old_model.results_size(); ++i)
    EXPECT_GT(LargestDifference(after.results(i), old_model.results(i)), 1e-3) << "prompt " << i << " looks stale";
  EXPECT_EQ(Results(client.Score(kPrompts)), Results(after));  // the new model's own entries, from now on
}

TEST(ResultCache, StaysWithinItsBound) {
  constexpr int64_t kBound = 16 << 10;
  auto server = Start("tiny_qwen3", kBound);
  ASSERT_NE(server, nullptr);
  Client client(*server);
  for (int i = 0; i < 40; ++i) client.Score({"distinct prompt number " + std::to_string(i)});
  EXPECT_GT(Metric(*server, "sparsegate_cache_bytes"), 0);
  EXPECT_LE(Metric(*server, "sparsegate_cache_bytes"), kBound);
  // The most recent prompt is still there; the first was evicted long ago.
  client.Score({"distinct prompt number 39"});
  EXPECT_EQ(Metric(*server, "sparsegate_cache_hits_total"), 1);
  client.Score({"distinct prompt number 0"});
  EXPECT_EQ(Metric(*server, "sparsegate_cache_hits_total"), 1);
}

}  // namespace
}  // namespace sparsegate

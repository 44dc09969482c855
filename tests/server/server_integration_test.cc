// The real server binary on a loopback port, called through real gRPC
// clients: health, reflection, Info, Score and ScoreStream, bad input,
// concurrency, cancellation, deadlines, admission limits, bad checkpoints.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <future>
#include <map>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <set>
#include <thread>
#include <utility>

#include "google/protobuf/unknown_field_set.h"
#include "health.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "reflection.grpc.pb.h"
#include "server_process.h"
#include "sparsegate/v1/difficulty.grpc.pb.h"

namespace sparsegate {
namespace {

using testing::RunCommand;
using testing::ServerProcess;

std::string Binary() { return SPARSEGATE_BIN; }
std::string ModelDir(const std::string& name = "tiny_qwen3") { return std::string(SPARSEGATE_TINY_DIR) + "/" + name; }

std::unique_ptr<v1::DifficultyService::Stub> Stub(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return v1::DifficultyService::NewStub(grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
}

v1::Prompt TextPrompt(const std::string& text, const std::string& id = "") {
  v1::Prompt p;
  p.set_text(text);
  p.set_id(id);
  return p;
}

grpc::Status Score(v1::DifficultyService::Stub& stub, const v1::ScoreRequest& request, v1::ScoreResponse* response,
                   int timeout_ms = 30000) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  return stub.Score(&context, request, response);
}

const v1::SparsityMetrics& Metrics(const v1::PromptResult& result, int i = 0) { return result.features(i).metrics(); }

void ExpectSameMetrics(const v1::SparsityMetrics& a, const v1::SparsityMetrics& b, double tolerance) {
  const auto* descriptor = v1::SparsityMetrics::descriptor();
  const auto* reflection = v1::SparsityMetrics::GetReflection();
  for (int f = 0; f < descriptor->field_count(); ++f) {
    const auto* field = descriptor->field(f);
    EXPECT_NEAR(reflection->GetFloat(a, field), reflection->GetFloat(b, field), tolerance) << field->name();
  }
}

class ServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess(Binary(), ModelDir(), {"--max-prompt-tokens", "64", "--max-prompts-per-request", "32"});
    ASSERT_TRUE(server_->ok()) << server_->log();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static ServerProcess* server_;
};
ServerProcess* ServerTest::server_ = nullptr;

TEST_F(ServerTest, HealthReportsServingOnceReady) {
  auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  for (const std::string service : {"", "sparsegate.v1.DifficultyService"}) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, request, &response).ok());
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING) << "service '" << service << "'";
  }
}

TEST_F(ServerTest, ReflectionListsTheServices) {
  auto reflection = grpc::reflection::v1alpha::ServerReflection::NewStub(
      grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  auto stream = reflection->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("*");
  ASSERT_TRUE(stream->Write(request));
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::set<std::string> names;
  for (const auto& s : response.list_services_response().service()) names.insert(s.name());
  EXPECT_TRUE(names.count("sparsegate.v1.DifficultyService"));
  EXPECT_TRUE(names.count("grpc.health.v1.Health"));

  // grpcurl's next step: the descriptor of the service's file.
  request.set_file_containing_symbol("sparsegate.v1.DifficultyService");
  ASSERT_TRUE(stream->Write(request));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_GT(response.file_descriptor_response().file_descriptor_proto_size(), 0);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(ServerTest, InfoDescribesTheModel) {
  auto stub = Stub(server_->address());
  grpc::ClientContext context;
  v1::InfoResponse info;
  ASSERT_TRUE(stub->Info(&context, v1::InfoRequest(), &info).ok());
  EXPECT_EQ(info.model_name(), "tiny_qwen3");
  EXPECT_EQ(info.architecture(), "Qwen3ForCausalLM");
  EXPECT_EQ(info.model_type(), "qwen3");
  EXPECT_EQ(info.num_layers(), 3);
  EXPECT_EQ(info.num_hidden_states(), 4);
  EXPECT_EQ(info.hidden_size(), 64);
  EXPECT_EQ(info.vocab_size(), 320);
  EXPECT_EQ(info.max_prompt_tokens(), 64);
  EXPECT_EQ(info.max_prompts_per_request(), 32);
  EXPECT_EQ(info.max_prompt_bytes(), 64 * 32);
  EXPECT_EQ(info.load_warnings_size(), 0);
  EXPECT_TRUE(info.has_chat_template());
  // A field the server does not define is refused, as on Score (it used to be ignored here).
  v1::InfoRequest unknown;
  unknown.mutable_unknown_fields()->AddVarint(99, 1);
  grpc::ClientContext second;
  v1::InfoResponse ignored;
  const grpc::Status refused = stub->Info(&second, unknown, &ignored);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(refused.error_message().find("the request holds fields this server does not define"), std::string::npos);
  EXPECT_EQ(info.model_digest().rfind("sha256:", 0), 0u);
  EXPECT_EQ(info.model_digest().size(), 7u + 64u);
  EXPECT_FALSE(info.service_version().empty());
}

TEST_F(ServerTest, ScoresTextAndIdsInRequestOrder) {
  auto stub = Stub(server_->address());
  v1::ScoreRequest request;
  request.set_request_id("batch-1");
  *request.add_prompts() = TextPrompt("What is 12 + 30?", "a");
  *request.add_prompts() = TextPrompt("Compute the integral of x squared from 0 to 3.", "b");
  v1::Prompt ids;
  ids.set_id("c");
  for (int id : {5, 17, 200, 3, 99}) ids.mutable_tokens()->add_ids(id);
  *request.add_prompts() = ids;
  request.mutable_options()->add_layers(-1);
  request.mutable_options()->add_layers(1);
  request.mutable_options()->add_poolings(v1::POOLING_LAST_TOKEN);
  request.mutable_options()->add_poolings(v1::POOLING_MEAN);
  v1::ScoreResponse response;
  grpc::Status status = Score(*stub, request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.request_id(), "batch-1");
  ASSERT_EQ(response.results_size(), 3);
  const char* expected_ids[] = {"a", "b", "c"};
  for (int i = 0; i < 3; ++i) {
    const v1::PromptResult& r = response.results(i);
    EXPECT_EQ(r.id(), expected_ids[i]);
    EXPECT_EQ(r.index(), i);
    ASSERT_EQ(r.features_size(), 4);  // 2 layers x 2 poolings, layers first
    EXPECT_EQ(r.features(0).layer(), 3);
    EXPECT_EQ(r.features(0).pooling(), v1::POOLING_LAST_TOKEN);
    EXPECT_EQ(r.features(1).pooling(), v1::POOLING_MEAN);
    EXPECT_EQ(r.features(2).layer(), 1);
    for (const auto& set : r.features()) {
      const auto& m = set.metrics();
      EXPECT_GE(m.heavy_tail_fraction(), 0);
      EXPECT_LE(m.heavy_tail_fraction(), 1);
      EXPECT_LE(m.top1_energy(), m.top5_energy());
      EXPECT_LE(m.top5_energy(), m.top10_energy());
      EXPECT_LE(m.top10_energy(), 1.0f + 1e-6f);
      EXPECT_GT(m.effective_rank_l1(), 0);
      EXPECT_LE(m.effective_rank_l1(), 1.0f + 1e-6f);
      EXPECT_GE(m.gini(), 0);
      EXPECT_LT(m.gini(), 1);
      EXPECT_TRUE(std::isfinite(m.kurtosis()));
      EXPECT_GE(m.max_abs_over_rms(), 1.0f - 1e-6f);
    }
  }
  EXPECT_EQ(response.results(2).token_count(), 5);
  EXPECT_GT(response.results(1).token_count(), response.results(0).token_count());
  EXPECT_EQ(response.model_digest().rfind("sha256:", 0), 0u);
  EXPECT_GE(response.timing().total_ms(), response.timing().forward_ms());
  EXPECT_GT(response.timing().forward_ms(), 0);
}

TEST_F(ServerTest, SamePromptSameFeaturesWhateverItsBatch) {
  auto stub = Stub(server_->address());
  v1::ScoreRequest alone;
  *alone.add_prompts() = TextPrompt("The quick brown fox jumps over the lazy dog.");
  v1::ScoreResponse alone_response;
  ASSERT_TRUE(Score(*stub, alone, &alone_response).ok());

  v1::ScoreRequest mixed;
  *mixed.add_prompts() = TextPrompt("Hi");
  *mixed.add_prompts() = TextPrompt("The quick brown fox jumps over the lazy dog.");
  *mixed.add_prompts() = TextPrompt("A much longer prompt that pads the others: one two three four five six seven.");
  v1::ScoreResponse mixed_response;
  ASSERT_TRUE(Score(*stub, mixed, &mixed_response).ok());
  ExpectSameMetrics(Metrics(alone_response.results(0)), Metrics(mixed_response.results(1)), 1e-4);
  EXPECT_EQ(alone_response.results(0).token_count(), mixed_response.results(1).token_count());
}

TEST_F(ServerTest, ReturnsThePooledHiddenVector) {
  auto stub = Stub(server_->address());
  v1::ScoreRequest request;
  *request.add_prompts() = TextPrompt("Return my hidden state.");
  request.mutable_options()->set_return_hidden(true);
  v1::ScoreResponse response;
  ASSERT_TRUE(Score(*stub, request, &response).ok());
  const auto& hidden = response.results(0).features(0).hidden();
  ASSERT_EQ(hidden.size(), 64);
  // Recompute one metric from the vector itself: max |h| / rms(h).
  double max_abs = 0, sum_sq = 0;
  for (float v : hidden) {
    max_abs = std::max(max_abs, std::abs(static_cast<double>(v)));
    sum_sq += static_cast<double>(v) * v;
  }
  EXPECT_NEAR(Metrics(response.results(0)).max_abs_over_rms(), max_abs / std::sqrt(sum_sq / 64), 1e-4);
}

TEST_F(ServerTest, ExcludedChannelsChangeTheMetrics) {
  auto stub = Stub(server_->address());
  v1::ScoreRequest request;
  *request.add_prompts() = TextPrompt("Channel exclusion check.");
  request.mutable_options()->set_return_hidden(true);
  v1::ScoreResponse full;
  ASSERT_TRUE(Score(*stub, request, &full).ok());
  // Exclude the largest channel: the metric must be the one of the remaining d - 1 channels.
  const auto& hidden = full.results(0).features(0).hidden();
  int largest = 0;
  for (int i = 1; i < hidden.size(); ++i)
    if (std::abs(hidden[i]) > std::abs(hidden[largest])) largest = i;
  request.mutable_options()->add_exclude_channels(largest);
  v1::ScoreResponse excluded;
  ASSERT_TRUE(Score(*stub, request, &excluded).ok());
  double max_abs = 0, sum_sq = 0;
  for (int i = 0; i < hidden.size(); ++i) {
    if (i == largest) continue;
    max_abs = std::max(max_abs, std::abs(static_cast<double>(hidden[i])));
    sum_sq += static_cast<double>(hidden[i]) * hidden[i];
  }
  EXPECT_NEAR(Metrics(excluded.results(0)).max_abs_over_rms(), max_abs / std::sqrt(sum_sq / (hidden.size() - 1)), 1e-4);
  EXPECT_NE(Metrics(excluded.results(0)).max_abs_over_rms(), Metrics(full.results(0)).max_abs_over_rms());
}

TEST_F(ServerTest, ChatTemplateWrapsThePrompt) {
  auto stub = Stub(server_->address());
  v1::ScoreRequest request;
  *request.add_prompts() = TextPrompt("What is 2 + 2?");
  v1::Prompt templated = TextPrompt("What is 2 + 2?");
  templated.set_apply_chat_template(true);
  *request.add_prompts() = templated;
  v1::ScoreResponse response;
  ASSERT_TRUE(Score(*stub, request, &response).ok());
  // <|im_start|>user\n ... <|im_end|>\n<|im_start|>assistant\n adds tokens around the text.
  EXPECT_GT(response.results(1).token_count(), response.results(0).token_count() + 4);
}

struct BadCase {
  std::string name;
  std::function<void(v1::ScoreRequest*)> build;
  grpc::StatusCode code;
  std::string message_part;
};

TEST_F(ServerTest, BadInputGetsAClearStatus) {
  auto stub = Stub(server_->address());
  auto two_prompts = [](v1::ScoreRequest* r) {
    *r->add_prompts() = TextPrompt("fine");
    *r->add_prompts() = TextPrompt("also fine");
  };
  std::vector<BadCase> cases = {
      {"empty batch", [](v1::ScoreRequest*) {}, grpc::StatusCode::INVALID_ARGUMENT, "no prompts"},
      {"empty prompt",
       [](v1::ScoreRequest* r) {
         *r->add_prompts() = TextPrompt("fine");
         *r->add_prompts() = TextPrompt("");
       },
       grpc::StatusCode::INVALID_ARGUMENT, "prompt 1: prompt text is empty"},
      {"no input",
       [](v1::ScoreRequest* r) {
         *r->add_prompts() = TextPrompt("fine");
         r->add_prompts()->set_id("x");
       },
       grpc::StatusCode::INVALID_ARGUMENT, "prompt 1: has neither text nor tokens"},
      {"token outside vocabulary",
       [](v1::ScoreRequest* r) {
         v1::Prompt p;
         for (int id : {1, 2, 320}) p.mutable_tokens()->add_ids(id);
         *r->add_prompts() = p;
       },
       grpc::StatusCode::INVALID_ARGUMENT, "prompt 0: token id 320 at position 2 is outside the vocabulary [0, 320)"},
      {"negative token",
       [](v1::ScoreRequest* r) {
         v1::Prompt p;
         p.mutable_tokens()->add_ids(-1);
         *r->add_prompts() = p;
       },
       grpc::StatusCode::INVALID_ARGUMENT, "prompt 0: token id -1"},
      {"empty ids",
       [](v1::ScoreRequest* r) {
         v1::Prompt p;
         p.mutable_tokens();
         *r->add_prompts() = p;
       },
       grpc::StatusCode::INVALID_ARGUMENT, "prompt 0: prompt has no tokens"},
      {"over the limit",
       [](v1::ScoreRequest* r) {
         *r->add_prompts() = TextPrompt("ok");
         *r->add_prompts() = TextPrompt(std::string(200, 'x') + " y z");
       },
       grpc::StatusCode::INVALID_ARGUMENT, "prompt 1: prompt has"},
      {"far over the limit",
       [](v1::ScoreRequest* r) {
         std::string huge;
         for (int i = 0; i < 1000; ++i) huge += "x ";  // within the byte limit, 2,000 tokens
         *r->add_prompts() = TextPrompt(huge);  // tokenized only until the count is clear
       },
       grpc::StatusCode::INVALID_ARGUMENT, "prompt 0: prompt has more than"},
      {"over the byte limit",
       [](v1::ScoreRequest* r) {
         *r->add_prompts() = TextPrompt(std::string(40000, 'x'));  // refused before tokenization
       },
       grpc::StatusCode::INVALID_ARGUMENT, "prompt 0: prompt text has 40000 bytes, over the limit of 2048"},
      {"unknown layer",
       [&](v1::ScoreRequest* r) {
         two_prompts(r);
         r->mutable_options()->add_layers(4);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "options.layers: layer 4 is outside [-4, 3]"},
      {"unknown negative layer",
       [&](v1::ScoreRequest* r) {
         two_prompts(r);
         r->mutable_options()->add_layers(-5);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "layer -5"},
      {"unspecified pooling",
       [&](v1::ScoreRequest* r) {
         two_prompts(r);
         r->mutable_options()->add_poolings(v1::POOLING_UNSPECIFIED);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "options.poolings[0]"},
      {"unknown pooling number",
       [&](v1::ScoreRequest* r) {
         two_prompts(r);
         r->mutable_options()->add_poolings(static_cast<v1::Pooling>(7));
       },
       grpc::StatusCode::INVALID_ARGUMENT, "enum values this server does not define"},
      {"channel out of range",
       [&](v1::ScoreRequest* r) {
         two_prompts(r);
         r->mutable_options()->add_exclude_channels(64);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "excluded channel 64"},
      {"chat template on ids",
       [](v1::ScoreRequest* r) {
         v1::Prompt p;
         p.mutable_tokens()->add_ids(3);
         p.set_apply_chat_template(true);
         *r->add_prompts() = p;
       },
       grpc::StatusCode::INVALID_ARGUMENT, "prompt 0: apply_chat_template applies to text"},
      // These were accepted and silently changed: wrapped, last-wins, folded or ignored.
      {"token id past int32",
       [](v1::ScoreRequest* r) {
         v1::Prompt p;
         p.mutable_tokens()->add_ids(4294967301LL);  // read as 5 when ids were int32
         *r->add_prompts() = p;
       },
       grpc::StatusCode::INVALID_ARGUMENT, "prompt 0: token id 4294967301 at position 0 is outside the vocabulary"},
      {"text and tokens",
       [](v1::ScoreRequest* r) {
         v1::Prompt p = TextPrompt("fine");
         p.mutable_tokens()->add_ids(3);
         *r->add_prompts() = p;
       },
       grpc::StatusCode::INVALID_ARGUMENT, "prompt 0: has both text and tokens"},
      {"the same layer twice",
       [&](v1::ScoreRequest* r) {
         two_prompts(r);
         r->mutable_options()->add_layers(-1);
         r->mutable_options()->add_layers(3);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "layer 3 names hidden state 3, which is already asked for"},
      {"the same pooling twice",
       [&](v1::ScoreRequest* r) {
         two_prompts(r);
         r->mutable_options()->add_poolings(v1::POOLING_MEAN);
         r->mutable_options()->add_poolings(v1::POOLING_MEAN);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "options.poolings[1] repeats a pooling"},
      {"unknown field in a prompt",
       [](v1::ScoreRequest* r) {
         v1::Prompt p = TextPrompt("fine");
         p.mutable_unknown_fields()->AddVarint(99, 1);
         *r->add_prompts() = p;
       },
       grpc::StatusCode::INVALID_ARGUMENT, "prompt 0 holds fields this server does not define"},
      {"unknown field in the request",
       [&](v1::ScoreRequest* r) {
         two_prompts(r);
         r->mutable_unknown_fields()->AddVarint(99, 1);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "the request holds fields this server does not define"},
      {"too many prompts",
       [](v1::ScoreRequest* r) {
         for (int i = 0; i < 33; ++i) *r->add_prompts() = TextPrompt("p");
       },
       grpc::StatusCode::INVALID_ARGUMENT, "33 prompts, over the limit of 32"},
      // Values past int32 used to wrap: 2^32 + 1 read as layer 1, or channel 1.
      {"a layer past int32",
       [&](v1::ScoreRequest* r) {
         two_prompts(r);
         r->mutable_options()->add_layers((int64_t{1} << 32) + 1);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "options.layers[0] = 4294967297 is outside"},
      {"a channel past int32",
       [&](v1::ScoreRequest* r) {
         two_prompts(r);
         r->mutable_options()->add_exclude_channels((int64_t{1} << 32) + 1);
       },
       grpc::StatusCode::INVALID_ARGUMENT, "excluded channel 4294967297 is outside"},
      {"an id that is not UTF-8",
       [](v1::ScoreRequest* r) {
         v1::Prompt p = TextPrompt("fine");
         p.set_id(std::string("id-\xff\xfe", 5));
         *r->add_prompts() = p;
       },
       grpc::StatusCode::INVALID_ARGUMENT, "prompt 0: id is not valid UTF-8 (byte offset 3)"},
      {"a request id that is not UTF-8",
       [&](v1::ScoreRequest* r) {
         two_prompts(r);
         r->set_request_id(std::string("\xc3", 1));
       },
       grpc::StatusCode::INVALID_ARGUMENT, "request_id is not valid UTF-8 (byte offset 0)"},
  };
  for (const BadCase& c : cases) {
    v1::ScoreRequest request;
    c.build(&request);
    v1::ScoreResponse response;
    grpc::Status status = Score(*stub, request, &response);
    EXPECT_EQ(status.error_code(), c.code) << c.name << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(c.message_part), std::string::npos)
        << c.name << ": got '" << status.error_message() << "'";
  }
  // The server is still there.
  v1::ScoreRequest fine;
  *fine.add_prompts() = TextPrompt("still alive?");
  v1::ScoreResponse response;
  EXPECT_TRUE(Score(*stub, fine, &response).ok());
}

grpc::ByteBuffer Bytes(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

template <typename Message>
grpc::ByteBuffer Bytes(const Message& message) {
  return Bytes(message.SerializeAsString());
}

// A bidirectional ScoreStream over raw frames: writes each in turn, then reads every response.
class RawStream : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  RawStream(grpc::GenericStub& stub, std::vector<grpc::ByteBuffer> frames) : frames_(std::move(frames)) {
    context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    stub.PrepareBidiStreamingCall(&context_, "/sparsegate.v1.DifficultyService/ScoreStream", grpc::StubOptions(), this);
    StartRead(&incoming_);
    WriteNext();
    StartCall();
  }
  void OnWriteDone(bool ok) override {
    if (ok) WriteNext();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    std::vector<grpc::Slice> slices;
    EXPECT_TRUE(incoming_.Dump(&slices).ok());
    std::string bytes;
    for (const grpc::Slice& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
    v1::ScoreStreamResponse response;
    EXPECT_TRUE(response.ParseFromString(bytes)) << "a response frame does not parse";
    responses_.push_back(std::move(response));
    StartRead(&incoming_);
  }
  void OnDone(const grpc::Status& status) override { done_.set_value(status); }
  // The call's status; the responses read, in order.
  grpc::Status Wait() { return done_.get_future().get(); }
  const std::vector<v1::ScoreStreamResponse>& responses() const { return responses_; }

 private:
  void WriteNext() {
    if (next_ == frames_.size()) {
      StartWritesDone();
      return;
    }
    StartWrite(&frames_[next_++]);
  }
  grpc::ClientContext context_;
  std::vector<grpc::ByteBuffer> frames_;
  size_t next_ = 0;
  grpc::ByteBuffer incoming_;
  std::vector<v1::ScoreStreamResponse> responses_;
  std::promise<grpc::Status> done_;
};

// Bytes that are not the message a method takes: INVALID_ARGUMENT naming the type, not gRPC's empty
// UNIMPLEMENTED; in a stream, that frame alone gets an error and the frames after it are answered.
TEST_F(ServerTest, UnparseableRequestsAreNamedAndTheStreamGoesOn) {
  auto channel = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  const std::string garbage = "\xff\xff\xff\xff\x0f not a protobuf";
  for (const std::string method : {"Score", "Info", "Reload"}) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::ByteBuffer request = Bytes(garbage), response;
    std::promise<grpc::Status> done;
    generic.UnaryCall(&context, "/sparsegate.v1.DifficultyService/" + method, grpc::StubOptions(), &request, &response,
                      [&](grpc::Status status) { done.set_value(std::move(status)); });
    grpc::Status status = done.get_future().get();
    if (method == "Reload") {  // off on this server: refused before its bytes matter
      EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
      continue;
    }
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << method << ": " << status.error_message();
    EXPECT_NE(status.error_message().find("not a valid sparsegate.v1." + method + "Request"), std::string::npos)
        << status.error_message();
  }

  v1::ScoreRequest first, third;
  first.set_request_id("first");
  *first.add_prompts() = TextPrompt("What is 1 + 1?");
  third.set_request_id("third");
  *third.add_prompts() = TextPrompt("What is 2 + 2?");
  RawStream stream(generic, {Bytes(first), Bytes(garbage), Bytes(third)});
  grpc::Status status = stream.Wait();
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::map<std::string, const v1::ScoreStreamResponse*> by_id;
  for (const auto& response : stream.responses()) by_id[response.request_id()] = &response;
  ASSERT_EQ(stream.responses().size(), 3u);
  ASSERT_TRUE(by_id.count("first") && by_id.count("third") && by_id.count(""));
  EXPECT_TRUE(by_id["first"]->has_response() && by_id["third"]->has_response());
  EXPECT_EQ(by_id[""]->error().code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_NE(by_id[""]->error().message().find("frame 2: the request is not a valid sparsegate.v1.ScoreRequest"),
            std::string::npos)
      << by_id[""]->error().message();
}

TEST_F(ServerTest, InvalidUtf8IsRefused) {
  auto stub = Stub(server_->address());
  v1::ScoreRequest request;
  *request.add_prompts() = TextPrompt("fine");
  *request.add_prompts() = TextPrompt("bad \xff\xfe byte");
  v1::ScoreResponse response;
  grpc::Status status = Score(*stub, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("prompt 1: "), std::string::npos) << status.error_message();
  EXPECT_NE(status.error_message().find("UTF-8"), std::string::npos) << status.error_message();
}

TEST_F(ServerTest, LeftTruncationKeepsTheEnd) {
  auto stub = Stub(server_->address());
  v1::ScoreRequest request;
  v1::Prompt long_prompt;
  for (int i = 0; i < 100; ++i) long_prompt.mutable_tokens()->add_ids(i % 250);
  *request.add_prompts() = long_prompt;
  request.mutable_options()->set_truncation(v1::TRUNCATION_LEFT);
  v1::ScoreResponse response;
  ASSERT_TRUE(Score(*stub, request, &response).ok());
  EXPECT_TRUE(response.results(0).truncated());
  EXPECT_EQ(response.results(0).token_count(), 64);
  // Same as sending the last 64 ids ourselves.
  v1::ScoreRequest tail;
  v1::Prompt last;
  for (int i = 36; i < 100; ++i) last.mutable_tokens()->add_ids(i % 250);
  *tail.add_prompts() = last;
  v1::ScoreResponse tail_response;
  ASSERT_TRUE(Score(*stub, tail, &tail_response).ok());
  EXPECT_FALSE(tail_response.results(0).truncated());
  ExpectSameMetrics(Metrics(response.results(0)), Metrics(tail_response.results(0)), 1e-5);
}

TEST_F(ServerTest, ConcurrentClientsAllGetTheirOwnAnswers) {
  // Reference answers, one prompt per call.
  std::vector<std::string> texts;
  for (int i = 0; i < 12; ++i) texts.push_back("Problem " + std::to_string(i) + ": add " + std::string(i + 1, '7') + " and 5.");
  auto stub = Stub(server_->address());
  std::vector<v1::SparsityMetrics> expected;
  for (const auto& t : texts) {
    v1::ScoreRequest r;
    *r.add_prompts() = TextPrompt(t);
    v1::ScoreResponse resp;
    ASSERT_TRUE(Score(*stub, r, &resp).ok());
    expected.push_back(Metrics(resp.results(0)));
  }
  // 8 threads x 6 calls, each call a rotated subset, all at once.
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto own = Stub(server_->address());
      for (int call = 0; call < 6; ++call) {
        v1::ScoreRequest r;
        std::vector<int> which;
        for (int k = 0; k < 4; ++k) {
          int i = (t * 3 + call + k * 5) % texts.size();
          which.push_back(i);
          *r.add_prompts() = TextPrompt(texts[i], std::to_string(i));
        }
        v1::ScoreResponse resp;
        grpc::Status s = Score(*own, r, &resp);
        if (!s.ok() || resp.results_size() != 4) {
          ++failures;
          continue;
        }
        for (int k = 0; k < 4; ++k) {
          if (resp.results(k).id() != std::to_string(which[k]) ||
              std::abs(Metrics(resp.results(k)).hoyer() - expected[which[k]].hoyer()) > 1e-4 ||
              std::abs(Metrics(resp.results(k)).top10_energy() - expected[which[k]].top10_energy()) > 1e-4)
            ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(ServerTest, CancelledAndExpiredCallsEndCleanly) {
  auto stub = Stub(server_->address());
  v1::ScoreRequest big;
  for (int i = 0; i < 32; ++i) *big.add_prompts() = TextPrompt("A prompt to be cancelled, number " + std::to_string(i));
  {
    grpc::ClientContext context;
    v1::ScoreResponse response;
    grpc::Status status;
    std::thread canceller([&] { context.TryCancel(); });
    status = stub->Score(&context, big, &response);
    canceller.join();
    // Either the cancel won (CANCELLED) or the work finished first (OK); never anything else.
    EXPECT_TRUE(status.error_code() == grpc::StatusCode::CANCELLED || status.ok()) << status.error_message();
  }
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::microseconds(1));
    v1::ScoreResponse response;
    grpc::Status status = stub->Score(&context, big, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  }
  v1::ScoreRequest fine;
  *fine.add_prompts() = TextPrompt("after the cancellations");
  v1::ScoreResponse response;
  EXPECT_TRUE(Score(*stub, fine, &response).ok());
}

TEST_F(ServerTest, StreamAnswersEveryRequestById) {
  auto stub = Stub(server_->address());
  grpc::ClientContext context;
  auto stream = stub->ScoreStream(&context);
  const int n = 6;
  for (int i = 0; i < n; ++i) {
    v1::ScoreRequest r;
    r.set_request_id("req-" + std::to_string(i));
    if (i == 3) {
      *r.add_prompts() = TextPrompt("");  // a bad one: answered with an error, the stream goes on
    } else {
      *r.add_prompts() = TextPrompt("stream prompt " + std::to_string(i));
      *r.add_prompts() = TextPrompt("second prompt of request " + std::to_string(i));
    }
    ASSERT_TRUE(stream->Write(r));
  }
  stream->WritesDone();
  std::set<std::string> seen;
  v1::ScoreStreamResponse response;
  while (stream->Read(&response)) {
    seen.insert(response.request_id());
    if (response.request_id() == "req-3") {
      ASSERT_TRUE(response.has_error());
      EXPECT_EQ(response.error().code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
      EXPECT_NE(response.error().message().find("prompt 0: prompt text is empty"), std::string::npos);
    } else {
      ASSERT_TRUE(response.has_response()) << response.error().message();
      EXPECT_EQ(response.response().results_size(), 2);
      EXPECT_EQ(response.response().request_id(), response.request_id());
    }
  }
  EXPECT_TRUE(stream->Finish().ok());
  EXPECT_EQ(seen.size(), static_cast<size_t>(n));
}

// Sends `calls` copies of `request` at once; every answer must be OK or RESOURCE_EXHAUSTED with a
// message holding `full`. Returns {OK answers, RESOURCE_EXHAUSTED answers}.
std::pair<int, int> Burst(v1::DifficultyService::Stub& stub, const v1::ScoreRequest& request, int calls,
                          const std::string& full) {
  std::vector<grpc::Status> statuses(calls);
  std::vector<std::thread> callers;
  for (int c = 0; c < calls; ++c) {
    callers.emplace_back([&, c] {
      v1::ScoreResponse response;
      statuses[c] = Score(stub, request, &response);
    });
  }
  for (std::thread& t : callers) t.join();
  int ok = 0, exhausted = 0;
  for (const grpc::Status& status : statuses) {
    if (status.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
      EXPECT_NE(status.error_message().find(full), std::string::npos) << status.error_message();
      ++exhausted;
    }
  }
  return {ok, exhausted};
}

TEST(ServerLimits, FullQueueAnswersResourceExhaustedAtOnce) {
  // A request may not exceed the queue (the server refuses to start so; see ServerLifecycle), so
  // the queue fills only under concurrent load: a burst of requests that each fit.
  ServerProcess server(Binary(), ModelDir(), {"--max-queued-prompts", "4", "--max-prompts-per-request", "4"});
  ASSERT_TRUE(server.ok()) << server.log();
  auto stub = Stub(server.address());
  v1::ScoreRequest request;
  for (int i = 0; i < 4; ++i) *request.add_prompts() = TextPrompt("queue test prompt number " + std::to_string(i));
  const auto [ok, exhausted] = Burst(*stub, request, 64, "queue is full");
  EXPECT_GT(ok, 0);
  EXPECT_GT(exhausted, 0) << "64 concurrent requests of 4 prompts never found the 4-prompt queue full";
  v1::ScoreResponse response;
  EXPECT_TRUE(Score(*stub, request, &response).ok());  // full service again after the burst
}

TEST(ServerLimits, AdmissionBoundsBytesAsWellAsPrompts) {
  // Admission used to count prompts only: 12 concurrent 48 MB requests added 2 GB of RSS.
  ServerProcess server(Binary(), ModelDir(), {"--max-queued-bytes", "2000"});
  ASSERT_TRUE(server.ok()) << server.log();
  auto stub = Stub(server.address());
  v1::ScoreRequest too_big;
  *too_big.add_prompts() = TextPrompt(std::string(2001, 'x'));
  v1::ScoreResponse response;
  grpc::Status status = Score(*stub, too_big, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("2001 bytes of prompts, over the server's limit of 2000"), std::string::npos)
      << status.error_message();

  v1::ScoreRequest request;  // 4 x 300 bytes: one fits, two do not
  for (int i = 0; i < 4; ++i) *request.add_prompts() = TextPrompt(std::string(290, 'a' + i) + " " + std::to_string(i));
  request.mutable_options()->set_truncation(v1::TRUNCATION_LEFT);  // over the tiny model's token limit
  const auto [ok, exhausted] = Burst(*stub, request, 32, "bytes of prompts waiting");
  EXPECT_GT(ok, 0);
  EXPECT_GT(exhausted, 0) << "32 concurrent 1,200-byte requests never found 2,000 bytes taken";
  EXPECT_TRUE(Score(*stub, request, &response).ok());  // the bytes were released
}

TEST(ServerLimits, AdmissionBoundsTokensOnceTokenized) {
  // Bytes do not measure forward work: a few long prompts weigh as much as many short ones.
  ServerProcess server(Binary(), ModelDir(), {"--max-queued-tokens", "100", "--max-prompt-tokens", "64"});
  ASSERT_TRUE(server.ok()) << server.log();
  auto stub = Stub(server.address());
  auto digits = [](int seed) {  // hundreds of tokens (digits tokenize one by one), cut to the last 64
    std::string text;
    for (int k = 0; k < 200; ++k) text += std::to_string((k * 7919 + seed) % 1000) + " ";
    return text;
  };
  v1::ScoreRequest too_many;  // 3 prompts cut to 64 tokens each: 192 > 100
  for (int i = 0; i < 3; ++i) *too_many.add_prompts() = TextPrompt(digits(i));
  too_many.mutable_options()->set_truncation(v1::TRUNCATION_LEFT);
  v1::ScoreResponse response;
  grpc::Status status = Score(*stub, too_many, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("192 tokens, over the server's limit of 100 queued tokens"), std::string::npos)
      << status.error_message();

  v1::ScoreRequest one;  // 64 tokens: one fits, two do not
  *one.add_prompts() = TextPrompt(digits(7));
  one.mutable_options()->set_truncation(v1::TRUNCATION_LEFT);
  const auto [ok, exhausted] = Burst(*stub, one, 32, "tokens waiting");
  EXPECT_GT(ok, 0);
  EXPECT_GT(exhausted, 0) << "32 concurrent 64-token requests never found 100 tokens taken";
  EXPECT_TRUE(Score(*stub, one, &response).ok());  // the tokens were released
}

TEST(ServerLimits, SmallTokenBudgetStillScoresEverything) {
  // Budget 8 tokens: every prompt runs in a batch of its own, or alone when longer.
  ServerProcess server(Binary(), ModelDir(), {"--token-budget", "8"});
  ASSERT_TRUE(server.ok()) << server.log();
  auto stub = Stub(server.address());
  v1::ScoreRequest request;
  for (int i = 0; i < 6; ++i) *request.add_prompts() = TextPrompt("budget test prompt number " + std::to_string(i), std::to_string(i));
  v1::ScoreResponse response;
  ASSERT_TRUE(Score(*stub, request, &response).ok());
  ASSERT_EQ(response.results_size(), 6);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(response.results(i).id(), std::to_string(i));
}

TEST(ServerOutliers, DetectedChannelsAreListedAndExcluded) {
  // A low ratio so that the random tiny model has "outliers" to find.
  std::string reference = ::testing::TempDir() + "/outlier_reference.txt";
  {
    std::ofstream out(reference);
    for (int i = 0; i < 12; ++i) out << "Reference prompt " << i << ": what is " << i * 7 << " + " << i * 3 << "?\n";
  }
  ServerProcess server(Binary(), ModelDir(), {"--outlier-reference", reference, "--outlier-ratio", "2.5"});
  ASSERT_TRUE(server.ok()) << server.log();
  auto stub = Stub(server.address());
  grpc::ClientContext context;
  v1::InfoResponse info;
  ASSERT_TRUE(stub->Info(&context, v1::InfoRequest(), &info).ok());
  ASSERT_EQ(info.detected_outliers_size(), 4);  // every hidden-state index 0..3
  const v1::LayerOutliers* last = nullptr;
  for (const auto& layer : info.detected_outliers())
    if (layer.layer() == 3) last = &layer;
  ASSERT_NE(last, nullptr);
  ASSERT_GT(last->channels_size(), 0) << "ratio 2.5 should flag some channels of a random model";
  ASSERT_LT(last->channels_size(), 64);

  v1::ScoreRequest detected;
  *detected.add_prompts() = TextPrompt("Which channels are outliers?");
  detected.mutable_options()->set_exclude_detected_outliers(true);
  v1::ScoreRequest listed;
  *listed.add_prompts() = TextPrompt("Which channels are outliers?");
  for (int c : last->channels()) listed.mutable_options()->add_exclude_channels(c);
  v1::ScoreResponse a, b;
  ASSERT_TRUE(Score(*stub, detected, &a).ok());
  ASSERT_TRUE(Score(*stub, listed, &b).ok());
  ExpectSameMetrics(Metrics(a.results(0)), Metrics(b.results(0)), 1e-6);
}

TEST(ScoreCommand, OneOutputRowPerInputRowAndSameFeaturesAsTheServer) {
  const std::string dir = ::testing::TempDir();
  const std::string input = dir + "/score_input.jsonl", output = dir + "/score_output.jsonl";
  {
    std::ofstream out(input);
    out << R"({"id": 1, "question": "What is 3 + 4?"})" << "\n"
        << R"({"id": 2, "question": [5, 17, 200, 3, 99]})" << "\n"
        << "\n"  // blank lines are not rows
        << R"({"id": 3, "prompt": "wrong field"})" << "\n"
        << "{not json" << "\n"
        << "{\"id\": 5, \"question\": \"bad \xff byte\"}\n"  // a raw 0xFF byte
        << R"({"id": 6, "question": [1, 400]})" << "\n";
  }
  auto result = RunCommand(Binary() + " score --model " + ModelDir() + " --field question --with-hidden --input " +
                           input + " --output " + output);
  EXPECT_EQ(result.exit_code, 1) << result.output;  // some rows failed
  EXPECT_NE(result.output.find("score_input.jsonl:4: missing field 'question'"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("score_input.jsonl:5: invalid JSON"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("score_input.jsonl:6: "), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("score_input.jsonl:7: token id 400 at position 1"), std::string::npos) << result.output;

  std::ifstream in(output);
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 6u);  // every non-blank input line, in order
  EXPECT_EQ(rows[0]["id"], 1);
  EXPECT_EQ(rows[1]["token_count"], 5);
  EXPECT_EQ(rows[1]["hidden"].size(), 64u);
  for (int failed : {2, 3, 4, 5}) EXPECT_TRUE(rows[failed].contains("error")) << rows[failed].dump();
  EXPECT_EQ(rows[2]["line"], 4);
  EXPECT_NE(rows[4]["error"].get<std::string>().find("UTF-8"), std::string::npos) << rows[4].dump();

  // The same prompt through the server gives the same numbers.
  ServerProcess server(Binary(), ModelDir());
  ASSERT_TRUE(server.ok()) << server.log();
  auto stub = Stub(server.address());
  v1::ScoreRequest request;
  *request.add_prompts() = TextPrompt("What is 3 + 4?");
  v1::ScoreResponse response;
  ASSERT_TRUE(Score(*stub, request, &response).ok());
  const auto& metrics = rows[0]["features"][0]["metrics"];
  EXPECT_NEAR(metrics["hoyer"].get<double>(), Metrics(response.results(0)).hoyer(), 1e-6);
  EXPECT_NEAR(metrics["top10_energy"].get<double>(), Metrics(response.results(0)).top10_energy(), 1e-6);
  EXPECT_EQ(rows[0]["token_count"], response.results(0).token_count());
}

TEST(ServerStartup, BadCheckpointsFailNamingTheFileAndTensor) {
  struct Case {
    std::string dir, expected;
  };
  for (const Case& c : std::vector<Case>{
           {"bad_no_config", "config.json: cannot open"},
           {"bad_header", "model.safetensors: not a safetensors file (its header length, the first 8 bytes, exceeds"},
           {"bad_shape", "tensor 'model.layers.0.mlp.gate_proj.weight' has shape [128, 64] but config.json implies [256, 64]"},
       }) {
    auto result = RunCommand(Binary() + " serve --address 127.0.0.1:0 --model " + ModelDir(c.dir));
    EXPECT_NE(result.exit_code, 0) << c.dir;
    EXPECT_NE(result.output.find(c.expected), std::string::npos) << c.dir << " said:\n" << result.output;
  }
}

}  // namespace
}  // namespace sparsegate

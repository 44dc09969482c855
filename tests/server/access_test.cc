// Transport security and access control on a real server on loopback, with certificates made by
// OpenSSL for the test (make_test_certs.sh): TLS talks only to clients that trust the server's CA;
// mutual TLS refuses clients without a certificate from the client CA; bearer tokens gate every
// DifficultyService call (UNAUTHENTICATED without a known token, PERMISSION_DENIED without the
// permission) while health stays open; Start refuses settings that would leave Reload open or TLS
// half configured, naming the file or flag.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "difficulty_service/service/server/difficulty_server.h"
#include "health.grpc.pb.h"
#include "sparsegate/v1/difficulty.grpc.pb.h"
#include "trainer_plugin/client/difficulty_client.h"

namespace sparsegate {
namespace {

using plugin::ClientOptions;
using plugin::DifficultyClient;

constexpr char kScoreToken[] = "score-token-0123456789abcdef";
constexpr char kAdminToken[] = "admin-token-fedcba9876543210";

class Pki {
 public:
  // A directory of this process's own: CTest runs each test as its own process, side by side.
  Pki() : dir_(::testing::TempDir() + "/access_test_pki_" + std::to_string(::getpid())) {
    const std::string command = std::string("bash ") + SPARSEGATE_SOURCE_DIR + "/tests/server/make_test_certs.sh " + dir_;
    ok_ = std::system(command.c_str()) == 0;
  }
  bool ok() const { return ok_; }
  std::string operator()(const std::string& name) const { return dir_ + "/" + name; }
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream((*this)(name)) << text;
    return (*this)(name);
  }

 private:
  std::string dir_;
  bool ok_ = false;
};

const Pki& Files() {
  static const Pki* pki = new Pki;
  return *pki;
}

std::string Model() { return std::string(SPARSEGATE_TINY_DIR) + "/tiny_qwen3"; }

std::unique_ptr<DifficultyServer> Start(ServerOptions options) {
  options.model_dir = Model();
  options.address = "127.0.0.1:0";
  auto server = DifficultyServer::Start(options);
  EXPECT_TRUE(server.ok()) << server.status();
  if (!server.ok()) return nullptr;
  absl::Status ready = (*server)->WaitUntilReady();
  EXPECT_TRUE(ready.ok()) << ready;
  return *std::move(server);
}

std::string Target(const DifficultyServer& server) { return "127.0.0.1:" + std::to_string(server.port()); }

// Whether a client with `options` gets a prompt scored by `server` (through the real client: its
// channel, credentials and token).
absl::Status ScoresThrough(const DifficultyServer& server, ClientOptions options) {
  options.target = Target(server);
  options.max_attempts = 1;
  options.deadline = std::chrono::seconds(5);
  auto client = DifficultyClient::Create(options);
  if (!client.ok()) return client.status();
  auto model = (*client)->WaitForService(std::chrono::seconds(2));  // refusals wait it out
  if (!model.ok()) return model.status();
  std::vector<plugin::PromptFeatures> features = (*client)->Score({{"What is 2 + 3?", {}}});
  if (features.size() != 1 || features[0].empty())
    return absl::InternalError("the prompt failed open: " + (*client)->stats().last_error);
  return absl::OkStatus();
}

ServerOptions Tls(bool require_client_certificates) {
  ServerOptions options;
  options.security.tls_cert_file = Files()("server.pem");
  options.security.tls_key_file = Files()("server.key");
  if (require_client_certificates) options.security.tls_client_ca_file = Files()("ca.pem");
  return options;
}

TEST(Access, TlsServesOnlyClientsThatTrustItsCertificate) {
  ASSERT_TRUE(Files().ok());
  auto server = Start(Tls(false));
  ASSERT_NE(server, nullptr);

  ClientOptions trusting;
  trusting.tls_ca_file = Files()("ca.pem");
  EXPECT_TRUE(ScoresThrough(*server, trusting).ok()) << ScoresThrough(*server, trusting);
  ClientOptions named = trusting;  // the certificate's name given explicitly
  named.tls_server_name = "localhost";
  EXPECT_TRUE(ScoresThrough(*server, named).ok());

  EXPECT_EQ(ScoresThrough(*server, ClientOptions()).code(), absl::StatusCode::kUnavailable);  // plaintext
  ClientOptions other_ca;
  other_ca.tls_ca_file = Files()("rogue_ca.pem");
  EXPECT_EQ(ScoresThrough(*server, other_ca).code(), absl::StatusCode::kUnavailable);
  ClientOptions wrong_name = trusting;
  wrong_name.tls_server_name = "scorer.elsewhere.example";
  EXPECT_EQ(ScoresThrough(*server, wrong_name).code(), absl::StatusCode::kUnavailable);
}

TEST(Access, MutualTlsRefusesClientsWithoutACertificateFromTheClientCa) {
  ASSERT_TRUE(Files().ok());
  auto server = Start(Tls(true));
  ASSERT_NE(server, nullptr);

  ClientOptions no_certificate;
  no_certificate.tls_ca_file = Files()("ca.pem");
  EXPECT_EQ(ScoresThrough(*server, no_certificate).code(), absl::StatusCode::kUnavailable);

  ClientOptions rogue = no_certificate;
  rogue.tls_cert_file = Files()("rogue_client.pem");
  rogue.tls_key_file = Files()("rogue_client.key");
  EXPECT_EQ(ScoresThrough(*server, rogue).code(), absl::StatusCode::kUnavailable);

  ClientOptions member = no_certificate;
  member.tls_cert_file = Files()("client.pem");
  member.tls_key_file = Files()("client.key");
  absl::Status scored = ScoresThrough(*server, member);
  EXPECT_TRUE(scored.ok()) << scored;
}

grpc::Status Call(v1::DifficultyService::Stub& stub, const char* token, const std::string& method) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (token) context.AddMetadata("authorization", std::string("Bearer ") + token);
  if (method == "Info") {
    v1::InfoResponse info;
    return stub.Info(&context, v1::InfoRequest(), &info);
  }
  if (method == "Reload") {
    v1::ReloadResponse response;
    return stub.Reload(&context, v1::ReloadRequest(), &response);  // empty model_dir: INVALID_ARGUMENT once allowed
  }
  v1::ScoreRequest request;
  request.add_prompts()->set_text("What is 2 + 3?");
  if (method == "Score") {
    v1::ScoreResponse response;
    return stub.Score(&context, request, &response);
  }
  auto stream = stub.ScoreStream(&context);
  stream->Write(request);
  stream->WritesDone();
  v1::ScoreStreamResponse response;
  while (stream->Read(&response)) {
  }
  return stream->Finish();
}

TEST(Access, BearerTokensGateEveryCallButHealth) {
  ASSERT_TRUE(Files().ok());
  ServerOptions options;
  options.allow_reload = true;
  options.security.auth_tokens_file = Files().Write(
      "tokens", std::string("# trainers\n") + kScoreToken + "\n\n" + kAdminToken + "  score reload  # the operator\n");
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  auto stub = v1::DifficultyService::NewStub(grpc::CreateChannel(Target(*server), grpc::InsecureChannelCredentials()));

  for (const char* method : {"Score", "ScoreStream", "Info", "Reload"}) {
    grpc::Status none = Call(*stub, nullptr, method);
    EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method;
    EXPECT_NE(none.error_message().find("bearer token"), std::string::npos) << none.error_message();
    grpc::Status unknown = Call(*stub, "score-token-0123456789abcdeX", method);  // one character off
    EXPECT_EQ(unknown.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method;
  }
  for (const char* method : {"Score", "ScoreStream", "Info"}) {
    EXPECT_TRUE(Call(*stub, kScoreToken, method).ok()) << method;
    EXPECT_TRUE(Call(*stub, kAdminToken, method).ok()) << method;
  }
  grpc::Status denied = Call(*stub, kScoreToken, "Reload");
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(denied.error_message().find("reload"), std::string::npos) << denied.error_message();
  EXPECT_EQ(Call(*stub, kAdminToken, "Reload").error_code(), grpc::StatusCode::INVALID_ARGUMENT);  // past the check

  // Probes need no token.
  auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(Target(*server), grpc::InsecureChannelCredentials()));
  for (const char* service : {"", "sparsegate.v1.DifficultyService"}) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    ASSERT_TRUE(health->Check(&context, request, &response).ok());
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }

  // The client sends its token from the options or from a file; a wrong one is named as a refusal.
  ClientOptions with_token;
  with_token.auth_token = kScoreToken;
  EXPECT_TRUE(ScoresThrough(*server, with_token).ok());
  ClientOptions from_file;
  from_file.auth_token_file = Files().Write("client_token", std::string(kScoreToken) + "\n");
  EXPECT_TRUE(ScoresThrough(*server, from_file).ok());
  ClientOptions wrong;
  wrong.auth_token = "not-the-token-at-all-000000";
  absl::Status refused = ScoresThrough(*server, wrong);
  EXPECT_EQ(refused.code(), absl::StatusCode::kUnauthenticated) << refused;
  EXPECT_NE(refused.message().find("refused this client"), std::string::npos) << refused;
}

TEST(Access, TlsAndTokensTogether) {
  ASSERT_TRUE(Files().ok());
  ServerOptions options = Tls(true);
  options.security.auth_tokens_file = Files().Write("tokens_tls", std::string(kScoreToken) + " score\n");
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  ClientOptions client;
  client.tls_ca_file = Files()("ca.pem");
  client.tls_cert_file = Files()("client.pem");
  client.tls_key_file = Files()("client.key");
  EXPECT_EQ(ScoresThrough(*server, client).code(), absl::StatusCode::kUnauthenticated);
  client.auth_token = kScoreToken;
  EXPECT_TRUE(ScoresThrough(*server, client).ok());
}

grpc::health::v1::HealthCheckResponse::ServingStatus PlainHealth(int port, const std::string& service) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.status();
}

// Kubernetes' gRPC probes speak neither TLS nor tokens: health alone on a plaintext port.
TEST(Access, APlaintextHealthPortBesideTlsServesHealthAlone) {
  ASSERT_TRUE(Files().ok());
  ServerOptions options = Tls(true);
  options.health_address = "127.0.0.1:0";
  auto server = Start(options);
  ASSERT_NE(server, nullptr);
  ASSERT_GT(server->health_port(), 0);
  using Status = grpc::health::v1::HealthCheckResponse;
  EXPECT_EQ(PlainHealth(server->health_port(), ""), Status::SERVING);
  EXPECT_EQ(PlainHealth(server->health_port(), "sparsegate.v1.DifficultyService"), Status::SERVING);
  auto stub = v1::DifficultyService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(server->health_port()), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::InfoResponse info;
  EXPECT_EQ(stub->Info(&context, v1::InfoRequest(), &info).error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_TRUE(server->Drain(std::chrono::seconds(5)));
  EXPECT_EQ(PlainHealth(server->health_port(), "sparsegate.v1.DifficultyService"), Status::NOT_SERVING);
}

// Start's answer for `options` (with the tiny model): an error whose message holds `fragment`.
void ExpectRefused(ServerOptions options, const std::string& fragment) {
  options.model_dir = Model();
  options.address = "127.0.0.1:0";
  auto server = DifficultyServer::Start(options);
  ASSERT_FALSE(server.ok()) << "started, expected: " << fragment;
  EXPECT_NE(std::string(server.status().message()).find(fragment), std::string::npos) << server.status();
}

TEST(Access, StartRefusesUnsafeOrBrokenSettings) {
  ASSERT_TRUE(Files().ok());
  ServerOptions reload_open;
  reload_open.allow_reload = true;
  ExpectRefused(reload_open, "--allow-reload needs --auth-tokens");
  ServerOptions reload_without_permission = reload_open;
  reload_without_permission.security.auth_tokens_file = Files().Write("score_only", std::string(kScoreToken) + " score\n");
  ExpectRefused(reload_without_permission, "allowed 'reload'");

  ServerOptions half;
  half.security.tls_cert_file = Files()("server.pem");
  ExpectRefused(half, "--tls-key");
  ServerOptions ca_alone;
  ca_alone.security.tls_client_ca_file = Files()("ca.pem");
  ExpectRefused(ca_alone, "--tls-client-ca needs --tls-cert");
  ServerOptions swapped = Tls(false);
  swapped.security.tls_cert_file = Files()("server.key");
  ExpectRefused(swapped, "server.key: no PEM certificate");
  ServerOptions missing = Tls(false);
  missing.security.tls_key_file = Files()("nowhere.key");
  ExpectRefused(missing, "nowhere.key: cannot open");
  // Used to start and then fail as "cannot listen on ...", naming no file.
  ServerOptions mismatched = Tls(false);
  mismatched.security.tls_key_file = Files()("client.key");
  ExpectRefused(mismatched, "client.key is not the private key of the certificate in " + Files()("server.pem"));
  std::ifstream pem_in(Files()("server.pem"));
  const std::string pem((std::istreambuf_iterator<char>(pem_in)), std::istreambuf_iterator<char>());
  ServerOptions truncated = Tls(false);
  truncated.security.tls_cert_file = Files().Write("truncated.pem", pem.substr(0, pem.size() / 2) + "\n-----END CERTIFICATE-----\n");
  ExpectRefused(truncated, "truncated.pem: certificate 1 does not parse");
  ServerOptions truncated_ca = Tls(true);
  truncated_ca.security.tls_client_ca_file = truncated.security.tls_cert_file;
  ExpectRefused(truncated_ca, "truncated.pem: certificate 1 does not parse");

  ServerOptions tokens;
  tokens.security.auth_tokens_file = Files().Write("short", "# ok\nshort-token\n");
  ExpectRefused(tokens, "short:2: the token is 11 characters");
  tokens.security.auth_tokens_file = Files().Write("unknown", std::string(kScoreToken) + " score admin\n");
  ExpectRefused(tokens, "unknown:1: word 3 is not a permission (known: score, reload)");
  tokens.security.auth_tokens_file = Files().Write("twice", std::string(kScoreToken) + "\n" + kScoreToken + " reload\n");
  ExpectRefused(tokens, "twice:2: this token is listed twice");
  tokens.security.auth_tokens_file = Files().Write("binary", std::string("\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", 12) + std::string(20, '\x80') + "\n");
  ExpectRefused(tokens, "binary:1: the token holds a byte outside printable ASCII");
  tokens.security.auth_tokens_file = Files().Write("empty", "# nobody yet\n");
  ExpectRefused(tokens, "lists no token");
}

TEST(Access, ClientRefusesHalfConfiguredSecurity) {
  ASSERT_TRUE(Files().ok());
  ClientOptions cert_only;
  cert_only.tls_cert_file = Files()("client.pem");
  EXPECT_EQ(DifficultyClient::Create(cert_only).status().code(), absl::StatusCode::kInvalidArgument);
  ClientOptions both_tokens;
  both_tokens.auth_token = kScoreToken;
  both_tokens.auth_token_file = Files().Write("client_token2", kScoreToken);
  EXPECT_EQ(DifficultyClient::Create(both_tokens).status().code(), absl::StatusCode::kInvalidArgument);
  ClientOptions not_pem;
  not_pem.tls_ca_file = Files()("client.key");
  auto refused = DifficultyClient::Create(not_pem);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(std::string(refused.status().message()).find("client.key: no PEM certificate"), std::string::npos)
      << refused.status();
}

}  // namespace
}  // namespace sparsegate

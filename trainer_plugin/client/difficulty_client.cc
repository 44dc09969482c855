#include "trainer_plugin/client/difficulty_client.h"

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "difficulty_service/core/common/files.h"
#include "nlohmann/json.hpp"
#include "sparsegate/v1/difficulty.grpc.pb.h"

namespace sparsegate::plugin {
namespace {

// The replicas a target names: "host:port" itself, or each address of "ipv4:a:p,b:p" /
// "ipv6:[a]:p,...". Other schemes (dns:///, unix:) do not list their replicas.
absl::StatusOr<std::vector<std::string>> ReplicaAddresses(const std::string& target) {
  for (const char* scheme : {"ipv4:", "ipv6:"}) {
    if (absl::StartsWith(target, scheme)) {
      std::vector<std::string> out = absl::StrSplit(target.substr(std::string(scheme).size()), ',', absl::SkipEmpty());
      if (!out.empty()) return out;
    }
  }
  if (target.find("://") != std::string::npos || target.find(':') == std::string::npos ||
      absl::StartsWith(target, "unix:"))
    return absl::InvalidArgumentError(absl::StrCat("cannot reload through target '", target,
                                                   "': name the replicas (host:port or ipv4:a:p,b:p)"));
  return std::vector<std::string>{target};
}

// host:port with a port in [1, 65535]; host a name, an IPv4 address or a bracketed IPv6 one.
bool IsHostPort(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) return false;
  const absl::string_view host = address.substr(0, colon), port = address.substr(colon + 1);
  int number = 0;
  if (!absl::SimpleAtoi(port, &number) || number < 1 || number > 65535 || port.front() == '+') return false;
  if (host.front() == '[') return host.back() == ']' && host.size() > 2;
  return host.find_first_of(" ,/[]:") == absl::string_view::npos;
}

// gRPC accepts any string as a target and fails only when it connects, as "unavailable" with no
// word of why; a target of none of its forms is refused when the client is made instead.
absl::Status CheckTarget(const std::string& target) {
  const absl::Status refused = absl::InvalidArgumentError(
      absl::StrCat("client target '", absl::CHexEscape(target),
                   "' is none of host:port, ipv4:a:p,b:p, ipv6:[a]:p,..., dns:///name:port or unix:path"));
  for (const char* scheme : {"ipv4:", "ipv6:"}) {
    if (!absl::StartsWith(target, scheme)) continue;
    const std::string list = target.substr(std::string(scheme).size());  // the views below point into it
    const std::vector<absl::string_view> addresses = absl::StrSplit(list, ',');
    for (absl::string_view address : addresses)
      if (!IsHostPort(address)) return refused;
    return absl::OkStatus();
  }
  for (const char* scheme : {"dns:", "unix:", "unix-abstract:"}) {
    if (absl::StartsWith(target, scheme)) return target.size() > std::string(scheme).size() + 1 ? absl::OkStatus() : refused;
  }
  return IsHostPort(target) ? absl::OkStatus() : refused;
}

constexpr char kServiceName[] = "sparsegate.v1.DifficultyService";

std::string Seconds(std::chrono::milliseconds ms) { return absl::StrCat(ms.count() / 1000.0, "s"); }

// Round-robin over the resolved addresses, health-checked, with gRPC's own
// retry policy: well-kept machinery, so no hand-written retry loop here.
// CANCELLED is retried too: a replica that shuts down cancels the calls that
// reached it after its listener closed, before they were matched to a handler
// (grpc/grpc#41785), and every call on this channel is a read, safe to repeat
// (Reload goes over a channel of its own, without this policy).
// A cancellation by this client itself is never retried by gRPC.
std::string ServiceConfig(const ClientOptions& o) {
  nlohmann::json retry = {{"maxAttempts", o.max_attempts},
                          {"initialBackoff", Seconds(o.initial_backoff)},
                          {"maxBackoff", Seconds(o.max_backoff)},
                          {"backoffMultiplier", 2},
                          {"retryableStatusCodes", {"UNAVAILABLE", "RESOURCE_EXHAUSTED", "CANCELLED"}}};
  nlohmann::json config = {{"loadBalancingConfig", {{{"round_robin", nlohmann::json::object()}}}},
                            {"healthCheckConfig", {{"serviceName", kServiceName}}}};
  // gRPC refuses a retry policy of fewer than 2 attempts, and with it the
  // whole service config: a single attempt means no policy at all.
  if (o.max_attempts >= 2)
    config["methodConfig"] = {{{"name", {{{"service", kServiceName}}}}, {"retryPolicy", retry}}};
  return config.dump();
}

absl::StatusOr<v1::Pooling> PoolingFromName(const std::string& name) {
  if (name == "last_token") return v1::POOLING_LAST_TOKEN;
  if (name == "mean") return v1::POOLING_MEAN;
  return absl::InvalidArgumentError(absl::StrCat("pooling '", name, "' is not one of last_token, mean"));
}

// What every channel and call of a client carries: its credentials and the bearer token.
struct ChannelSecurity {
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  std::string server_name;    // ssl target name override, when set
  std::string authorization;  // "Bearer <token>", or empty

  void Apply(grpc::ChannelArguments* args) const {
    if (!server_name.empty()) args->SetSslTargetNameOverride(server_name);
  }
  void Apply(grpc::ClientContext* context) const {
    if (!authorization.empty()) context->AddMetadata("authorization", authorization);
  }
};

absl::StatusOr<ChannelSecurity> MakeChannelSecurity(const ClientOptions& o) {
  ChannelSecurity security;
  if (o.tls_cert_file.empty() != o.tls_key_file.empty())
    return absl::InvalidArgumentError("a client certificate needs both tls_cert_file and tls_key_file");
  const bool tls = o.tls || !o.tls_ca_file.empty() || !o.tls_cert_file.empty();
  if (!tls) {
    if (!o.tls_server_name.empty()) return absl::InvalidArgumentError("tls_server_name is set but TLS is off");
    security.credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    if (!o.tls_ca_file.empty()) {
      auto ca = ReadPemFile(o.tls_ca_file, "CERTIFICATE");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
    }
    if (!o.tls_cert_file.empty()) {
      auto cert = ReadPemFile(o.tls_cert_file, "CERTIFICATE");
      if (!cert.ok()) return cert.status();
      auto key = ReadPemFile(o.tls_key_file, "PRIVATE KEY");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    security.credentials = grpc::SslCredentials(ssl);
    security.server_name = o.tls_server_name;
  }
  if (!o.auth_token.empty() && !o.auth_token_file.empty())
    return absl::InvalidArgumentError("give auth_token or auth_token_file, not both");
  std::string token = o.auth_token;
  if (!o.auth_token_file.empty()) {
    auto text = ReadFile(o.auth_token_file);
    if (!text.ok()) return text.status();
    token = std::string(absl::StripAsciiWhitespace(text->substr(0, text->find('\n'))));
    if (token.empty()) return absl::InvalidArgumentError(absl::StrCat(o.auth_token_file, ": the first line holds no token"));
  }
  if (token.find_first_of(" \t\r\n") != std::string::npos)
    return absl::InvalidArgumentError("the auth token contains whitespace");
  if (!token.empty()) security.authorization = "Bearer " + token;
  return security;
}

}  // namespace

class DifficultyClient::Impl {
 public:
  Impl(ClientOptions options, ChannelSecurity security, std::vector<v1::Pooling> poolings, size_t num_columns)
      : options_(std::move(options)),
        security_(std::move(security)),
        poolings_(std::move(poolings)),
        num_columns_(num_columns) {
    grpc::ChannelArguments args;
    args.SetServiceConfigJSON(ServiceConfig(options_));
    args.SetMaxReceiveMessageSize(256 << 20);  // hidden vectors of large batches
    args.SetMaxSendMessageSize(64 << 20);
    security_.Apply(&args);
    channel_ = grpc::CreateCustomChannel(options_.target, security_.credentials, args);
    stub_ = v1::DifficultyService::NewStub(channel_);
  }

  std::vector<PromptFeatures> Score(const std::vector<ScoreInput>& inputs) {
    std::vector<PromptFeatures> out(inputs.size());
    const size_t per_call = static_cast<size_t>(std::max(1, options_.max_prompts_per_call));
    struct Call {
      size_t first = 0, count = 0;
      grpc::ClientContext context;
      v1::ScoreRequest request;
      v1::ScoreResponse response;
      grpc::Status status;
    };
    std::vector<std::unique_ptr<Call>> calls;
    for (size_t first = 0; first < inputs.size(); first += per_call) {
      auto call = std::make_unique<Call>();
      call->first = first;
      call->count = std::min(per_call, inputs.size() - first);
      call->context.set_deadline(std::chrono::system_clock::now() + options_.deadline);
      security_.Apply(&call->context);
      FillRequest(inputs, call->first, call->count, &call->request);
      calls.push_back(std::move(call));
    }
    // All calls of a batch in flight at once: replicas work in parallel.
    std::mutex mu;
    std::condition_variable cv;
    size_t pending = calls.size();
    for (auto& call : calls) {
      Call* c = call.get();
      stub_->async()->Score(&c->context, &c->request, &c->response, [&, c](grpc::Status status) {
        c->status = std::move(status);
        std::lock_guard<std::mutex> lock(mu);
        if (--pending == 0) cv.notify_all();
      });
    }
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return pending == 0; });
    }
    for (auto& call : calls) Collect(*call, call->first, call->count, &out);
    KeepOneModel(&out);
    return out;
  }

  // Replicas serving different checkpoints (a reload half done, a stale pod) would give one batch
  // features of two models, which the predictor cannot tell apart. The batch keeps the model that
  // scored most of it (ties: the one seen before); the other prompts fail open, counted.
  void KeepOneModel(std::vector<PromptFeatures>* out) {
    std::map<std::string, int> scored_by;
    for (const PromptFeatures& f : *out)
      if (!f.empty()) ++scored_by[f.model_digest];
    std::lock_guard<std::mutex> lock(stats_mu_);
    if (scored_by.size() <= 1) return;
    auto best = scored_by.begin();
    for (auto it = scored_by.begin(); it != scored_by.end(); ++it) {
      if (it->second > best->second || (it->second == best->second && it->first == digest_)) best = it;
    }
    const std::string kept = best->first;
    int64_t set_aside = 0;
    for (PromptFeatures& f : *out) {
      if (f.empty() || f.model_digest == kept) continue;
      f = PromptFeatures();
      ++set_aside;
    }
    stats_.prompts_scored -= set_aside;
    stats_.prompts_failed_open += set_aside;
    stats_.prompts_from_other_models += set_aside;
    stats_.last_error = absl::StrCat("replicas serve different models: ", set_aside,
                                     " prompts of the batch failed open, scored by another model than ", kept);
    digest_ = kept;
  }

  absl::StatusOr<std::string> WaitForService(std::chrono::milliseconds timeout) {
    grpc::ClientContext context;
    context.set_wait_for_ready(true);
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    security_.Apply(&context);
    v1::InfoResponse info;
    grpc::Status status = stub_->Info(&context, v1::InfoRequest(), &info);
    if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
        status.error_code() == grpc::StatusCode::PERMISSION_DENIED)
      return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                          absl::StrCat(options_.target, " refused this client: ", status.error_message()));
    if (!status.ok())
      return absl::UnavailableError(absl::StrCat("no difficulty service answered at ", options_.target,
                                                 " within ", timeout.count(), " ms: ", status.error_message()));
    std::lock_guard<std::mutex> lock(stats_mu_);
    digest_ = info.model_digest();
    return info.model_name();
  }

  std::string model_digest() const {
    std::lock_guard<std::mutex> lock(stats_mu_);
    return digest_;
  }

  absl::StatusOr<std::vector<ReloadResult>> Reload(const std::string& model_dir, std::chrono::milliseconds timeout) {
    auto replicas = ReplicaAddresses(options_.target);
    if (!replicas.ok()) return replicas.status();
    std::vector<ReloadResult> results;
    for (const std::string& replica : *replicas) {
      grpc::ChannelArguments args;
      security_.Apply(&args);
      auto stub = v1::DifficultyService::NewStub(grpc::CreateCustomChannel(replica, security_.credentials, args));
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + timeout);
      security_.Apply(&context);
      v1::ReloadRequest request;
      request.set_model_dir(model_dir);
      v1::ReloadResponse response;
      grpc::Status status = stub->Reload(&context, request, &response);
      if (!status.ok()) {
        std::vector<std::string> done;
        for (const ReloadResult& r : results) done.push_back(r.replica);
        return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                            absl::StrCat(replica, " refused the reload: ", status.error_message(),
                                         done.empty() ? "" : absl::StrCat(" (already switched: ", absl::StrJoin(done, ", "), ")")));
      }
      results.push_back({replica, response.model_digest(), response.previous_digest(), response.load_ms()});
    }
    return results;
  }
  ClientStats stats() const {
    std::lock_guard<std::mutex> lock(stats_mu_);
    return stats_;
  }

 private:
  void FillRequest(const std::vector<ScoreInput>& inputs, size_t first, size_t count, v1::ScoreRequest* request) const {
    v1::ScoreOptions* o = request->mutable_options();
    for (int layer : options_.layers) o->add_layers(layer);
    for (v1::Pooling p : poolings_) o->add_poolings(p);
    o->set_return_hidden(options_.return_hidden);
    o->set_exclude_detected_outliers(options_.exclude_detected_outliers);
    o->set_truncation(options_.truncate_left ? v1::TRUNCATION_LEFT : v1::TRUNCATION_NONE);
    for (size_t i = first; i < first + count; ++i) {
      v1::Prompt* prompt = request->add_prompts();
      if (!inputs[i].ids.empty()) {
        prompt->mutable_tokens()->mutable_ids()->Add(inputs[i].ids.begin(), inputs[i].ids.end());
      } else {
        prompt->set_text(inputs[i].text);
        prompt->set_apply_chat_template(options_.apply_chat_template);
      }
    }
  }

  // Flattens one call's results; a failed call (or a malformed answer)
  // leaves its prompts' features empty: fail-open.
  template <typename CallT>
  void Collect(const CallT& call, size_t first, size_t count, std::vector<PromptFeatures>* out) {
    std::string error;
    if (!call.status.ok()) {
      error = absl::StrCat("Score failed: ", call.status.error_code(), " ", call.status.error_message());
    } else if (call.response.results_size() != static_cast<int>(count)) {
      error = absl::StrCat("Score answered ", call.response.results_size(), " results for ", count, " prompts");
    }
    size_t scored = 0;
    if (error.empty()) {
      const auto* descriptor = v1::SparsityMetrics::descriptor();
      const auto* reflection = v1::SparsityMetrics::GetReflection();
      for (size_t i = 0; i < count; ++i) {
        const v1::PromptResult& result = call.response.results(static_cast<int>(i));
        PromptFeatures features;
        features.token_count = result.token_count();
        features.truncated = result.truncated();
        features.original_token_count = result.original_token_count();
        features.model_digest = call.response.model_digest();
        for (const v1::FeatureSet& set : result.features())
          for (const char* name : MetricNames())
            features.metrics.push_back(reflection->GetFloat(set.metrics(), descriptor->FindFieldByName(name)));
        if (features.metrics.size() != num_columns_) {
          error = absl::StrCat("Score answered ", result.features_size(), " feature sets per prompt, expected ",
                               num_columns_ / MetricNames().size(), " (are two requested layers the same?)");
          continue;
        }
        if (options_.return_hidden && result.features_size() > 0)
          features.hidden.assign(result.features(0).hidden().begin(), result.features(0).hidden().end());
        (*out)[first + i] = std::move(features);
        ++scored;
      }
    }
    std::lock_guard<std::mutex> lock(stats_mu_);
    ++stats_.calls;
    stats_.prompts_scored += static_cast<int64_t>(scored);
    stats_.prompts_failed_open += static_cast<int64_t>(count - scored);
    if (!call.status.ok()) {
      ++stats_.failed_calls;
      stats_.last_error_code = call.status.error_code();
    }
    if (!error.empty()) stats_.last_error = error;
    if (call.status.ok() && !call.response.model_digest().empty()) digest_ = call.response.model_digest();
  }

  const ClientOptions options_;
  const ChannelSecurity security_;
  const std::vector<v1::Pooling> poolings_;
  const size_t num_columns_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::DifficultyService::Stub> stub_;
  mutable std::mutex stats_mu_;
  ClientStats stats_;
  std::string digest_;
};

absl::StatusOr<std::unique_ptr<DifficultyClient>> DifficultyClient::Create(const ClientOptions& options) {
  if (options.target.empty()) return absl::InvalidArgumentError("client target is empty");
  if (absl::Status target = CheckTarget(options.target); !target.ok()) return target;
  if (options.max_prompts_per_call < 1)
    return absl::InvalidArgumentError(absl::StrCat("max_prompts_per_call is ", options.max_prompts_per_call,
                                                   "; it must be at least 1"));
  if (options.layers.empty()) return absl::InvalidArgumentError("client needs at least one layer");
  if (options.poolings.empty()) return absl::InvalidArgumentError("client needs at least one pooling");
  if (options.max_attempts < 1 || options.max_attempts > 5)
    return absl::InvalidArgumentError("max_attempts must be in [1, 5] (gRPC's retry limit)");
  if (options.deadline.count() <= 0) return absl::InvalidArgumentError("deadline must be positive");
  // The metric list (metric_list.h) and the proto are kept apart; a name the proto lacks would be
  // a null field later.
  for (const char* name : MetricNames())
    if (v1::SparsityMetrics::descriptor()->FindFieldByName(name) == nullptr)
      return absl::InternalError(absl::StrCat("metric '", name, "' is not a field of sparsegate.v1.SparsityMetrics"));
  std::vector<v1::Pooling> poolings;
  for (const std::string& name : options.poolings) {
    auto pooling = PoolingFromName(name);
    if (!pooling.ok()) return pooling.status();
    poolings.push_back(*pooling);
  }
  FeatureSchema schema = FeatureSchema::ForLayersAndPoolings(options.layers, options.poolings);
  if (absl::Status valid = ValidateSchema(schema); !valid.ok())
    return absl::InvalidArgumentError(absl::StrCat("layers and poolings must not repeat: ", valid.message()));
  auto security = MakeChannelSecurity(options);
  if (!security.ok()) return security.status();
  auto impl = std::make_unique<Impl>(options, *std::move(security), std::move(poolings), schema.size());
  return std::unique_ptr<DifficultyClient>(new DifficultyClient(std::move(impl), std::move(schema)));
}

DifficultyClient::DifficultyClient(std::unique_ptr<Impl> impl, FeatureSchema schema)
    : impl_(std::move(impl)), schema_(std::move(schema)) {}
DifficultyClient::~DifficultyClient() = default;

std::vector<PromptFeatures> DifficultyClient::Score(const std::vector<ScoreInput>& inputs) { return impl_->Score(inputs); }
std::string DifficultyClient::model_digest() const { return impl_->model_digest(); }
absl::StatusOr<std::vector<ReloadResult>> DifficultyClient::Reload(const std::string& model_dir,
                                                                   std::chrono::milliseconds timeout) {
  return impl_->Reload(model_dir, timeout);
}
absl::StatusOr<std::string> DifficultyClient::WaitForService(std::chrono::milliseconds timeout) {
  return impl_->WaitForService(timeout);
}
ClientStats DifficultyClient::stats() const { return impl_->stats(); }

}  // namespace sparsegate::plugin

// The trainer's side of the difficulty service: one gRPC channel to one or
// many replicas, returning each prompt's features as plain PromptFeatures.
//
// Replicas: `target` is any gRPC target: "host:port", a static list
// "ipv4:10.0.0.1:50051,10.0.0.2:50051", or "dns:///scorer.internal:50051".
// Calls are spread round-robin, and client-side health checking skips
// replicas that report NOT_SERVING (a replica still loading its model).
// Every call has a deadline; gRPC's own retry policy retries UNAVAILABLE,
// RESOURCE_EXHAUSTED and a replica's CANCELLED with exponential backoff. A trainer batch is split into
// Score calls of at most max_prompts_per_call prompts, sent concurrently.
//
// Fail-open: Score() never fails as a whole. A prompt whose call could not
// be answered in time comes back with empty features, and the failure is
// counted; the plugin then decides without features, so training never
// stalls on the service.
//
// Security: with TLS options the channel is TLS (the server's certificate checked against
// tls_ca_file, or the system's roots), with a client certificate for servers that require one;
// a bearer token, when given, goes with every call as "authorization: Bearer <token>".
#ifndef SPARSEGATE_TRAINER_PLUGIN_CLIENT_DIFFICULTY_CLIENT_H_
#define SPARSEGATE_TRAINER_PLUGIN_CLIENT_DIFFICULTY_CLIENT_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer_plugin/features.h"

namespace sparsegate::plugin {

struct ClientOptions {
  std::string target = "localhost:50051";
  // Hidden-state indices (negative from the end) and poolings ("last_token",
  // "mean") to request. The first (layer, pooling) is the one the
  // unsupervised prior reads.
  std::vector<int> layers{-1};
  std::vector<std::string> poolings{"last_token"};
  bool return_hidden = false;  // for the hidden-vector probe
  bool exclude_detected_outliers = false;
  bool apply_chat_template = false;
  bool truncate_left = true;   // a long prompt is scored on its end (stats: truncated_prompts); refusing it would fail its whole call open
  int max_prompts_per_call = 64;
  std::chrono::milliseconds deadline{30000};  // per Score call, retries included
  int max_attempts = 4;
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{2000};
  // Transport security; all empty: plaintext. Any TLS file, or tls = true, turns TLS on.
  bool tls = false;
  std::string tls_ca_file;      // PEM roots that verify the server; empty: the system's roots
  std::string tls_cert_file;    // PEM client certificate chain, for servers that require one (mTLS)
  std::string tls_key_file;     // its private key
  std::string tls_server_name;  // the name the server's certificate must carry, when not the target's host
  std::string auth_token;       // bearer token sent with every call
  std::string auth_token_file;  // or the file holding it (its first line), kept off command lines
};

struct ClientStats {
  int64_t calls = 0;
  int64_t failed_calls = 0;    // calls that ended without an answer (after retries)
  int64_t prompts_scored = 0;
  int64_t prompts_failed_open = 0;
  // Of those: scored by a replica that serves another model than the rest of their batch (features
  // of two models are never mixed in one batch; see Score).
  int64_t prompts_from_other_models = 0;
  std::string last_error;
  int last_error_code = 0;  // the grpc::StatusCode of the last failed call; 0 (OK) if none failed
};

// One replica's answer to a Reload.
struct ReloadResult {
  std::string replica;  // "host:port"
  std::string model_digest;
  std::string previous_digest;
  double load_ms = 0;
};

// One prompt as the trainer holds it: text, or token ids.
struct ScoreInput {
  std::string text;
  std::vector<int32_t> ids;  // used when non-empty
};

class DifficultyClient {
 public:
  // Checks the options; connects lazily (a service that is not up yet is no
  // error here).
  static absl::StatusOr<std::unique_ptr<DifficultyClient>> Create(const ClientOptions& options);
  ~DifficultyClient();

  // Columns "layer<index>/<pooling>/<metric>" with the indices as requested
  // (e.g. "layer-1/last_token/top10_energy"), known before any call.
  const FeatureSchema& schema() const { return schema_; }

  // Features per input, in order; empty features for prompts that failed
  // open (see stats()). Thread-safe.
  std::vector<PromptFeatures> Score(const std::vector<ScoreInput>& inputs);

  // The model digest of the replica that answered last (empty before any
  // answer): checkpoints of the plugin are only meaningful for one model.
  std::string model_digest() const;
  // Waits up to `timeout` for a replica to answer Info; the model it serves.
  absl::StatusOr<std::string> WaitForService(std::chrono::milliseconds timeout);

  // Asks every replica to switch to the checkpoint in `model_dir` (a path on the replicas'
  // machines; the servers must run with --allow-reload), one replica after another so that the
  // others keep serving. Needs a target that names its replicas: "host:port" or a static
  // "ipv4:a:p,b:p" list (a dns:/// target is InvalidArgument). Stops at the first replica that
  // refuses, with its status and a message naming it and the replicas already switched.
  absl::StatusOr<std::vector<ReloadResult>> Reload(const std::string& model_dir, std::chrono::milliseconds timeout);

  ClientStats stats() const;

 private:
  class Impl;
  explicit DifficultyClient(std::unique_ptr<Impl> impl, FeatureSchema schema);

  std::unique_ptr<Impl> impl_;
  FeatureSchema schema_;
};

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_CLIENT_DIFFICULTY_CLIENT_H_

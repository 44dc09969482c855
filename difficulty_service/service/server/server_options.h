// What a difficulty server is started with, and the range each numeric option may take.
//
// DifficultyServer::Start refuses options outside their ranges (CheckServerOptions); `sparsegate
// serve` checks its flags against the same bounds while the command line parses, so that a value
// such as --token-budget -5 never starts a server that then fails or misbehaves per call.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_SERVER_OPTIONS_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_SERVER_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "difficulty_service/core/engine/scoring_engine.h"
#include "difficulty_service/service/batcher/batcher.h"
#include "difficulty_service/service/server/access_control.h"

namespace sparsegate {

struct ServerOptions {
  std::string model_dir;
  // Loopback by default: reaching the service from other machines is a choice the operator makes,
  // warned about at start-up when it is made without TLS (docs/security.md).
  std::string address = "127.0.0.1:50051";  // "host:0" picks a free port
  EngineOptions engine;
  BatcherOptions batcher;
  int max_prompts_per_request = 256;
  int max_message_bytes = 64 << 20;  // gRPC's 4 MiB default is too small for hidden vectors
  // A ScoreStream whose answers waiting to be written exceed this many bytes is not read until its
  // client reads them: a client that never reads costs this much, not every answer it asked for.
  int64_t max_stream_backlog_bytes = int64_t{64} << 20;
  bool allow_reload = false;         // the Reload call (switch to another checkpoint of the same shape)
  // Reload accepts only model directories inside this folder, resolved (so `..` and symbolic links
  // cannot leave it). Empty: the folder that holds model_dir.
  std::string reload_root;
  ServerSecurityOptions security;    // TLS, mTLS and bearer tokens; all off by default
  // When set, grpc.health.v1 is also served here, in plaintext and alone (the same statuses), for
  // probes that cannot use TLS or tokens, such as Kubernetes' native gRPC probes.
  std::string health_address;
  // When set, Prometheus metrics are served over HTTP at http://<metrics_address>/metrics.
  std::string metrics_address;
};

// The closed range of one numeric option, named by its `serve` flag. `integer` options refuse
// fractions.
struct OptionBound {
  const char* flag;
  double min;
  double max;
  bool integer = true;

  // "an integer in [1, 1073741824]", "a number in [1, 1000000]".
  std::string Describe() const;
};

// Every numeric option's bound, with a pointer-free way to read the option's value from options.
struct BoundedOption {
  OptionBound bound;
  double (*value)(const ServerOptions&);
};
const std::vector<BoundedOption>& ServerOptionBounds();

// The bound of the option whose flag is `flag` (e.g. "--token-budget"); aborts on an unknown flag,
// which is a programming error.
const OptionBound& BoundOf(const std::string& flag);

// OK when every numeric option is inside its bound and the options agree with each other;
// otherwise InvalidArgument naming the flag, the value and the allowed range.
absl::Status CheckServerOptions(const ServerOptions& options);

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_SERVER_SERVER_OPTIONS_H_

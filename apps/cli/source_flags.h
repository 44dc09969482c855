// Where an offline command (filter, evaluate) gets its features, as command-line flags: a model
// directory scored in process (default: the embedded model), or difficulty-service replicas
// (--server a:p,b:p, round-robin), with the layers and poolings to request.
#ifndef SPARSEGATE_APPS_CLI_SOURCE_FLAGS_H_
#define SPARSEGATE_APPS_CLI_SOURCE_FLAGS_H_

#include <CLI/App.hpp>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "apps/cli/device_flags.h"
#include "apps/offline/sources/feature_source.h"

namespace sparsegate::cli {

struct SourceFlags {
  std::string model_dir;  // "" when the embedded model is not found: an error unless --server is given
  std::vector<std::string> servers;
  std::vector<int> layers{-1};
  std::vector<std::string> poolings{"last_token", "mean"};
  bool return_hidden = false;  // the pooled vector of the first (layer, pooling), for a probe
  std::string truncation = "reject";  // a prompt over the token limit: "reject" it, or score its end ("left")
  // How to reach --server replicas that use TLS or bearer tokens (see ClientOptions).
  bool tls = false;
  std::string tls_ca_file, tls_cert_file, tls_key_file, tls_server_name, auth_token_file;
  DeviceFlags device;  // for --model, in process
};

// Adds --model, --device, --dtype, --server, --layers, --poolings, --truncation and the --server security options
// (--tls, --tls-ca, --tls-cert, --tls-key, --tls-server-name, --auth-token-file) to `cmd`; `flags`
// supplies the defaults.
void AddSourceOptions(CLI::App* cmd, SourceFlags* flags);

// The in-process model or a client of the replicas (waiting up to 30 s for them to answer).
absl::StatusOr<std::unique_ptr<offline::FeatureSource>> MakeSource(const SourceFlags& flags);

// The offline commands' exit code for a job that failed with `status`, after logging it: 2 for a
// usage or set-up problem (bad input, a missing file, a setting that does not fit), 3 for a failure
// midway (a source that stopped answering, a disk that filled up).
int FailedJobExitCode(const absl::Status& status);

}  // namespace sparsegate::cli

#endif  // SPARSEGATE_APPS_CLI_SOURCE_FLAGS_H_

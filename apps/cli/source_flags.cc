#include "apps/cli/source_flags.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "apps/cli/embedded_model.h"
#include "apps/offline/sources/in_process_source.h"

namespace sparsegate::cli {

void AddSourceOptions(CLI::App* cmd, SourceFlags* flags) {
  auto* model = cmd->add_option("--model", flags->model_dir, "model directory scored in process (default: the embedded model)")
                    ->capture_default_str()->check(CLI::ExistingDirectory);
  AddDeviceOptions(cmd, &flags->device);
  cmd->add_option("--server", flags->servers, "difficulty service address(es) host:port, instead of --model")
      ->delimiter(',')->excludes(model);
  cmd->add_option("--layers", flags->layers, "hidden-state indices (negative from the end)")->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--poolings", flags->poolings, "last_token and/or mean")->delimiter(',')
      ->check(CLI::IsMember({"last_token", "mean"}))->capture_default_str();
  cmd->add_option("--truncation", flags->truncation,
                  "a prompt over the model's token limit: reject it (the row is rejected with its token count), "
                  "or score its last tokens (left; the row says truncated, with its original token count)")
      ->check(CLI::IsMember({"reject", "left"}))->capture_default_str();
  const char* group = "Reaching --server replicas";
  cmd->add_flag("--tls", flags->tls, "connect to --server over TLS, trusting the system's roots")->group(group);
  cmd->add_option("--tls-ca", flags->tls_ca_file, "PEM roots that verify the servers' certificates (implies --tls)")
      ->check(CLI::ExistingFile)->group(group);
  cmd->add_option("--tls-cert", flags->tls_cert_file, "PEM client certificate, for servers that require one")
      ->check(CLI::ExistingFile)->group(group);
  cmd->add_option("--tls-key", flags->tls_key_file, "PEM private key of --tls-cert")->check(CLI::ExistingFile)->group(group);
  cmd->add_option("--tls-server-name", flags->tls_server_name,
                  "name the servers' certificates carry, when not the --server host")->group(group);
  cmd->add_option("--auth-token-file", flags->auth_token_file, "file whose first line is the bearer token")
      ->check(CLI::ExistingFile)->group(group);
}

absl::StatusOr<std::unique_ptr<offline::FeatureSource>> MakeSource(const SourceFlags& flags) {
  if (flags.servers.empty()) {
    if (flags.model_dir.empty()) {
      return absl::NotFoundError(absl::StrCat("no --model given, and the embedded model ", kEmbeddedModelName,
                                              " is not beside this binary (looked in ",
                                              absl::StrJoin(EmbeddedModelCandidates(), ", "), ")"));
    }
    offline::InProcessSourceOptions options;
    options.model_dir = flags.model_dir;
    options.layers = flags.layers;
    options.poolings = flags.poolings;
    options.return_hidden = flags.return_hidden;
    options.truncate_left = flags.truncation == "left";
    options.device = flags.device.Device();
    options.dtype = flags.device.Dtype();
    options.cpu_matmul = flags.device.Matmul();
    return offline::MakeInProcessSource(options);
  }
  plugin::ClientOptions options;
  // Several replicas: gRPC's round_robin over a static list (ipv4:a:p,b:p).
  options.target = flags.servers.size() == 1 ? flags.servers[0] : "ipv4:" + absl::StrJoin(flags.servers, ",");
  options.layers = flags.layers;
  options.poolings = flags.poolings;
  options.return_hidden = flags.return_hidden;
  options.truncate_left = flags.truncation == "left";
  options.deadline = std::chrono::seconds(120);
  options.tls = flags.tls;
  options.tls_ca_file = flags.tls_ca_file;
  options.tls_cert_file = flags.tls_cert_file;
  options.tls_key_file = flags.tls_key_file;
  options.tls_server_name = flags.tls_server_name;
  options.auth_token_file = flags.auth_token_file;
  auto client = plugin::DifficultyClient::Create(options);
  if (!client.ok()) return client.status();
  auto model = (*client)->WaitForService(std::chrono::seconds(30));
  if (!model.ok()) return model.status();
  spdlog::info("{} serves {}", options.target, *model);
  return offline::MakeRemoteFeatureSource(*std::move(client), options.target);
}

int FailedJobExitCode(const absl::Status& status) {
  spdlog::error("{}", std::string(status.message()));
  const absl::StatusCode code = status.code();
  return code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kFailedPrecondition ||
                 code == absl::StatusCode::kNotFound || code == absl::StatusCode::kUnauthenticated ||
                 code == absl::StatusCode::kPermissionDenied
             ? 2
             : 3;
}

}  // namespace sparsegate::cli

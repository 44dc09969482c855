#include "apps/cli/source_flags.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "apps/cli/embedded_model.h"
#include "apps/offline/in_process_source.h"

namespace sparsegate::cli {

void AddSourceOptions(CLI::App* cmd, SourceFlags* flags) {
  auto* model = cmd->add_option("--model", flags->model_dir, "model directory scored in process (default: the embedded model)")
                    ->capture_default_str()->check(CLI::ExistingDirectory);
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
  auto client = plugin::DifficultyClient::Create(options);
  if (!client.ok()) return client.status();
  auto model = (*client)->WaitForService(std::chrono::seconds(30));
  if (!model.ok()) return absl::UnavailableError(absl::StrCat(options.target, ": ", model.status().message()));
  spdlog::info("{} serves {}", options.target, *model);
  return offline::MakeRemoteFeatureSource(*std::move(client), options.target);
}

int FailedJobExitCode(const absl::Status& status) {
  spdlog::error("{}", std::string(status.message()));
  const absl::StatusCode code = status.code();
  return code == absl::StatusCode::kInvalidArgument || code == absl::StatusCode::kFailedPrecondition ||
                 code == absl::StatusCode::kNotFound
             ? 2
             : 3;
}

}  // namespace sparsegate::cli

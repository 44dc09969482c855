// `sparsegate serve`: runs the gRPC difficulty service until SIGINT/SIGTERM.
#ifndef SPARSEGATE_APPS_CLI_SERVE_COMMAND_H_
#define SPARSEGATE_APPS_CLI_SERVE_COMMAND_H_

#include <CLI/App.hpp>
#include <string>

#include "apps/cli/device_flags.h"
#include "difficulty_service/service/server/server_options.h"

namespace sparsegate::cli {

// What `serve`'s flags parse into.
struct ServeSettings {
  ServerOptions options;
  std::string outlier_file;
  double drain_seconds = 20.0;
  DeviceFlags device;
};

// The `serve` subcommand with its flags and their checks, parsing into `settings`, with no action
// attached: AddServeCommand adds the action, and the flag fuzzer parses through it alone.
CLI::App* AddServeOptions(CLI::App& app, ServeSettings* settings);

void AddServeCommand(CLI::App& app);

}  // namespace sparsegate::cli

#endif  // SPARSEGATE_APPS_CLI_SERVE_COMMAND_H_

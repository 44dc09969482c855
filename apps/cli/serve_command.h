// `sparsegate serve`: runs the gRPC difficulty service until SIGINT/SIGTERM.
#ifndef SPARSEGATE_APPS_CLI_SERVE_COMMAND_H_
#define SPARSEGATE_APPS_CLI_SERVE_COMMAND_H_

#include <CLI/App.hpp>

namespace sparsegate::cli {
void AddServeCommand(CLI::App& app);
}

#endif  // SPARSEGATE_APPS_CLI_SERVE_COMMAND_H_

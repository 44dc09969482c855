// `sparsegate serve`: runs the gRPC difficulty service until SIGINT/SIGTERM.
#pragma once

#include <CLI/App.hpp>

namespace sparsegate::cli {
void AddServeCommand(CLI::App& app);
}

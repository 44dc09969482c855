// `serve`'s command line from the fuzzer (arguments separated by NUL bytes, after "serve --model
// <dir>"): parsing refuses or accepts, never crashes, and whatever it accepts is inside every bound
// that DifficultyServer::Start enforces (server_options.h), so the two checks cannot drift apart.
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "apps/cli/serve_command.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sparsegate;
  std::vector<std::string> args = {"sparsegate", "serve", "--model", fuzz::ScratchDir()};
  std::string current;
  for (char c : fuzz::AsText(data, size)) {
    if (c != '\0') {
      current.push_back(c);
      continue;
    }
    args.push_back(std::move(current));
    current.clear();
    if (args.size() > 24) return 0;
  }
  if (!current.empty()) args.push_back(current);
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());

  CLI::App app{"fuzz"};
  app.require_subcommand(1);
  cli::ServeSettings settings;
  cli::AddServeOptions(app, &settings);
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::Error&) {
    return 0;  // refused, with CLI11's message naming the flag
  }
  for (const BoundedOption& option : ServerOptionBounds()) {
    const double value = option.value(settings.options);
    if (!(value >= option.bound.min && value <= option.bound.max)) __builtin_trap();  // accepted out of bounds
  }
  if (!(settings.drain_seconds >= 0 && settings.drain_seconds <= 86400)) __builtin_trap();
  return 0;
}

#include "apps/cli/serve_command.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "apps/cli/device_flags.h"
#include "difficulty_service/core/common/files.h"
#include "difficulty_service/service/server/difficulty_server.h"

namespace sparsegate::cli {
namespace {

std::vector<std::string> ReadLines(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) throw CLI::ValidationError("--outlier-reference", std::string(text.status().message()));
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) lines.emplace_back(line);
  return lines;
}

// The flag's bound from server_options.h, checked on the text as it parses: CLI11's own Range lets
// "nan" through (every comparison with NaN is false) and says nothing of the flag's purpose.
CLI::Validator InBounds(const OptionBound& bound) {
  return CLI::Validator(
      [bound](std::string& text) -> std::string {
        char* end = nullptr;
        errno = 0;
        const double value = std::strtod(text.c_str(), &end);
        const bool parsed = end != text.c_str() && *end == '\0' && errno == 0;
        if (parsed && std::isfinite(value) && value >= bound.min && value <= bound.max &&
            (!bound.integer || value == std::floor(value)))
          return "";
        return absl::StrCat(text, " is not ", bound.Describe());
      },
      bound.Describe());
}

CLI::Validator InBounds(const char* flag) { return InBounds(BoundOf(flag)); }

}  // namespace

CLI::App* AddServeOptions(CLI::App& app, ServeSettings* settings) {
  ServerOptions* options = &settings->options;
  std::string* outlier_file = &settings->outlier_file;
  double* drain_seconds = &settings->drain_seconds;
  DeviceFlags* device = &settings->device;
  CLI::App* cmd = app.add_subcommand("serve", "Run the gRPC difficulty service on a model directory");
  cmd->add_option("--model", options->model_dir, "Hugging Face model directory (config.json, safetensors, tokenizer.json)")
      ->required()->check(CLI::ExistingDirectory);
  AddDeviceOptions(cmd, device);
  cmd->add_option("--address", options->address, "host:port to listen on (port 0 picks a free one)")->capture_default_str();
  cmd->add_option("--max-prompt-tokens", options->engine.max_prompt_tokens,
                  "longest prompt accepted (0: min(max_position_embeddings, 8192))")
      ->capture_default_str()
      ->check(InBounds("--max-prompt-tokens"));
  cmd->add_option("--max-prompt-bytes", options->engine.max_prompt_bytes,
                  "longest prompt text accepted, in bytes, refused before tokenization (0: 32 per token of "
                  "--max-prompt-tokens)")->capture_default_str()->check(InBounds("--max-prompt-bytes"));
  cmd->add_option("--shared-prefix-min-tokens", options->engine.shared_prefix_min_tokens,
                  "a prefix of at least this many tokens that prompts of one batch share is computed once "
                  "(0: never)")->capture_default_str()->check(InBounds("--shared-prefix-min-tokens"));
  cmd->add_option("--prefix-cache-bytes", options->engine.prefix_cache_bytes,
                  "bytes of prefix states kept across batches, so that a prompt beginning like earlier ones "
                  "computes only what follows (0: off)")->capture_default_str()->check(InBounds("--prefix-cache-bytes"));
  cmd->add_option("--max-prompts-per-request", options->max_prompts_per_request)
      ->capture_default_str()
      ->check(InBounds("--max-prompts-per-request"));
  cmd->add_option("--max-queued-prompts", options->batcher.max_queued_prompts,
                  "admitted but unscored prompts before RESOURCE_EXHAUSTED")
      ->capture_default_str()
      ->check(InBounds("--max-queued-prompts"));
  cmd->add_option("--max-queued-bytes", options->batcher.max_queued_bytes,
                  "bytes of prompt text and ids admitted and not yet answered before RESOURCE_EXHAUSTED")
      ->capture_default_str()->check(InBounds("--max-queued-bytes"));
  cmd->add_option("--max-queued-tokens", options->batcher.max_queued_tokens,
                  "tokens of admitted prompts not yet scored before RESOURCE_EXHAUSTED")
      ->capture_default_str()
      ->check(InBounds("--max-queued-tokens"));
  cmd->add_option("--token-budget", options->batcher.token_budget,
                  "padded tokens (longest x prompts) per forward pass; on a GPU, lowered at load to what 90% of its free "
                  "memory holds in the worst case (every hidden state kept, every prompt --max-prompt-tokens long)")
      ->capture_default_str()
      ->check(InBounds("--token-budget"));
  cmd->add_option("--max-batch-prompts", options->batcher.max_batch_prompts)
      ->capture_default_str()
      ->check(InBounds("--max-batch-prompts"));
  cmd->add_option("--tokenizer-threads", options->batcher.tokenizer_threads)
      ->capture_default_str()
      ->check(InBounds("--tokenizer-threads"));
  cmd->add_option("--large-request-bytes", options->batcher.large_request_bytes,
                  "requests with more prompt bytes than this are tokenized on a lane of their own, so that they "
                  "never delay the others")->capture_default_str()->check(InBounds("--large-request-bytes"));
  cmd->add_option("--cache-bytes", options->batcher.cache_bytes,
                  "memory for scored prompts answered again without a forward pass when the same prompt is asked "
                  "for the same features (keyed by model digest, token ids and options; a reload starts empty); "
                  "0: no cache")->capture_default_str()->check(InBounds("--cache-bytes"));
  cmd->add_option("--intra-op-threads", options->batcher.intra_op_threads, "0: one per core")
      ->capture_default_str()
      ->check(InBounds("--intra-op-threads"));
  cmd->add_option("--max-message-bytes", options->max_message_bytes)
      ->capture_default_str()
      ->check(InBounds("--max-message-bytes"));
  cmd->add_option("--max-stream-backlog-bytes", options->max_stream_backlog_bytes,
                  "a ScoreStream whose unread answers exceed this is not read until its client reads them")
      ->capture_default_str()
      ->check(InBounds("--max-stream-backlog-bytes"));
  cmd->add_option("--outlier-reference", *outlier_file,
                  "text file, one prompt per line, for outlier-channel detection at start-up");
  cmd->add_option("--outlier-ratio", options->engine.outlier_ratio,
                  "a channel is an outlier above this multiple of the median channel magnitude")
      ->capture_default_str()
      ->check(InBounds("--outlier-ratio"));
  cmd->add_option("--drain-timeout", *drain_seconds,
                  "seconds a SIGTERM waits for admitted work (health NOT_SERVING, new calls UNAVAILABLE) before exiting")
      ->capture_default_str()->check(InBounds(OptionBound{"--drain-timeout", 0, 86400, /*integer=*/false}));
  cmd->add_flag("--allow-reload", options->allow_reload,
                "accept the Reload call (switch to another checkpoint of the same shape without a restart) from "
                "tokens with the reload permission; needs --auth-tokens");
  cmd->add_option("--reload-root", options->reload_root,
                  "Reload accepts only model directories inside this folder (resolved: '..' and symbolic links "
                  "cannot leave it); default: the folder that holds --model")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--health-address", options->health_address,
                  "also serve grpc.health.v1 here, in plaintext and alone, for probes that cannot use TLS "
                  "(Kubernetes' gRPC probes)");
  cmd->add_option("--metrics-address", options->metrics_address,
                  "serve Prometheus metrics over HTTP at http://HOST:PORT/metrics (port 0 picks a free one)");
  cmd->add_option("--tls-cert", options->security.tls_cert_file, "PEM certificate chain: serve over TLS")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tls-key", options->security.tls_key_file, "PEM private key of --tls-cert")->check(CLI::ExistingFile);
  cmd->add_option("--tls-client-ca", options->security.tls_client_ca_file,
                  "PEM CA bundle: require client certificates it signed (mutual TLS)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--auth-tokens", options->security.auth_tokens_file,
                  "file of bearer tokens, one per line with its permissions (score, reload); calls without an "
                  "allowed token are refused (health checks stay open)")
      ->check(CLI::ExistingFile);

  return cmd;
}

void AddServeCommand(CLI::App& app) {
  auto settings = std::make_shared<ServeSettings>();
  CLI::App* cmd = AddServeOptions(app, settings.get());
  cmd->callback([settings] {
    ServerOptions* options = &settings->options;
    const double* drain_seconds = &settings->drain_seconds;
    const DeviceFlags* device = &settings->device;
    const std::string* outlier_file = &settings->outlier_file;
    options->engine.device = device->Device();
    options->engine.dtype = device->Dtype();
    options->engine.cpu_matmul = device->Matmul();
    if (!outlier_file->empty()) options->engine.outlier_reference_prompts = ReadLines(*outlier_file);
    auto server = DifficultyServer::Start(*options);
    if (!server.ok()) {
      spdlog::error("{}", std::string(server.status().message()));
      throw CLI::RuntimeError(1);
    }
    spdlog::info("listening on port {} (health NOT_SERVING until the model is ready)", (*server)->port());
    if ((*server)->health_port() > 0) spdlog::info("health alone, in plaintext, on port {}", (*server)->health_port());
    if ((*server)->metrics_port() > 0) spdlog::info("metrics at http://{}/metrics (port {})", options->metrics_address, (*server)->metrics_port());
    absl::Status ready = (*server)->WaitUntilReady();
    if (!ready.ok()) {
      spdlog::error("cannot load the model: {}", std::string(ready.message()));
      throw CLI::RuntimeError(1);
    }
    // Print the port on stdout for scripts and tests that start the server on port 0.
    std::printf("ready on port %d\n", (*server)->port());
    std::fflush(stdout);
    boost::asio::io_context io;
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code&, int signal) {
      spdlog::info("signal {}: draining (health NOT_SERVING, new calls UNAVAILABLE)", signal);
    });
    io.run();
    const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(*drain_seconds * 1000));
    if ((*server)->Drain(timeout)) {
      spdlog::info("drained: every admitted prompt was scored; shutting down");
    } else {
      spdlog::warn("drain timeout ({} s) passed with work still admitted; cancelling it", *drain_seconds);
    }
    (*server)->Shutdown();
  });
}

}  // namespace sparsegate::cli

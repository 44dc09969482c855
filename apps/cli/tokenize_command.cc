#include "apps/cli/tokenize_command.h"

#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "difficulty_service/core/common/json_parse.h"
#include "difficulty_service/core/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"

namespace sparsegate::cli {
namespace {

struct TokenizeOptions {
  std::string tokenizer_path;
  bool add_special_tokens = false;
  bool jsonl = false;
};

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "sparsegate tokenize: %s\n", message.c_str());
  throw CLI::RuntimeError(1);
}

void AppendIds(const std::vector<int32_t>& ids, std::string* out) {
  out->push_back('[');
  char buf[16];
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out->push_back(',');
    const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), ids[i]);
    out->append(buf, end);
  }
  out->append("]\n");
}

void RunTokenize(const TokenizeOptions& options) {
  std::filesystem::path path(options.tokenizer_path);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) path /= "tokenizer.json";
  absl::StatusOr<std::unique_ptr<Tokenizer>> tokenizer = Tokenizer::FromFile(path.string());
  if (!tokenizer.ok()) Fail(std::string(tokenizer.status().message()));

  std::ios::sync_with_stdio(false);
  std::string line, out;
  auto flush = [&out]() {
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    out.clear();
  };
  size_t line_number = 0;
  // The ids of the lines before a bad one are still printed, so a caller can see how far it got.
  auto fail_at_line = [&](const std::string& what) {
    flush();
    Fail("line " + std::to_string(line_number) + ": " + what);
  };
  while (std::getline(std::cin, line)) {
    ++line_number;
    std::string text;
    if (options.jsonl) {
      absl::StatusOr<nlohmann::json> parsed = ParseJson(line);
      if (!parsed.ok()) fail_at_line("not valid JSON: " + std::string(parsed.status().message()));
      const nlohmann::json j = *std::move(parsed);
      if (!j.is_string()) fail_at_line(std::string("expected a JSON string, found ") + j.type_name());
      text = j.get<std::string>();
    } else {
      text = std::move(line);
    }
    absl::StatusOr<std::vector<int32_t>> ids = (*tokenizer)->Encode(text, options.add_special_tokens);
    if (!ids.ok()) fail_at_line(std::string(ids.status().message()));
    AppendIds(*ids, &out);
    if (out.size() > (1 << 16)) flush();
  }
  flush();
}

}  // namespace

void AddTokenizeCommand(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print token ids (one JSON array per stdin line)");
  cmd->add_option("--tokenizer", options->tokenizer_path, "tokenizer.json, or a model directory containing one")
      ->required();
  cmd->add_flag("--add-special-tokens", options->add_special_tokens,
                "Apply the tokenizer's post-processor (e.g. Llama 3's BOS)");
  cmd->add_flag("--jsonl", options->jsonl, "Each input line is a JSON string rather than raw text");
  cmd->callback([options]() { RunTokenize(*options); });
}

}  // namespace sparsegate::cli

#include "difficulty_service/cli/score_command.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <condition_variable>
#include <fstream>
#include <iostream>

#include "absl/strings/strip.h"
#include "difficulty_service/batcher/batcher.h"
#include "difficulty_service/cli/feature_json.h"
#include "difficulty_service/engine/scoring_engine.h"
#include "nlohmann/json.hpp"

namespace sparsegate::cli {
namespace {

using nlohmann::json;

struct ScoreFlags {
  std::string model_dir;
  std::string input = "-";
  std::string output = "-";
  std::string field = "prompt";
  std::vector<int> layers;
  std::vector<std::string> poolings{"last_token"};
  std::vector<int64_t> exclude_channels;
  bool with_hidden = false;
  bool chat_template = false;
  bool truncate_left = false;
  int64_t token_budget = 8192;
  int64_t max_prompt_tokens = 0;
};

// Counts jobs down to zero; the reading thread waits for a chunk to finish.
class Countdown {
 public:
  void Add(int n) {
    std::lock_guard<std::mutex> lock(mu_);
    left_ += n;
  }
  void Done() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--left_ == 0) cv_.notify_all();
  }
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return left_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int left_ = 0;
};

struct Row {
  int64_t line = 0;
  json value;
  std::string error;
  std::shared_ptr<ScoreJob> job;
};

// An error message can quote the bad bytes of its row; replace them rather
// than let the JSON writer throw.
std::string Dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

// Reads the prompt out of one parsed row: a string is text, an array of
// integers is token ids.
absl::StatusOr<PromptInput> PromptFromRow(const json& row, const ScoreFlags& flags) {
  if (!row.is_object()) return absl::InvalidArgumentError("row is not a JSON object");
  auto it = row.find(flags.field);
  if (it == row.end()) return absl::InvalidArgumentError("missing field '" + flags.field + "'");
  PromptInput input;
  input.apply_chat_template = flags.chat_template;
  if (it->is_string()) {
    input.text = it->get<std::string>();
  } else if (it->is_array()) {
    std::vector<int32_t> ids;
    for (const auto& v : *it) {
      if (!v.is_number_integer()) return absl::InvalidArgumentError("field '" + flags.field + "' holds a non-integer token id");
      ids.push_back(v.get<int32_t>());
    }
    input.ids = std::move(ids);
  } else {
    return absl::InvalidArgumentError("field '" + flags.field + "' is neither a string nor an array of token ids");
  }
  return input;
}

int RunScore(const ScoreFlags& flags) {
  EngineOptions engine_options;
  engine_options.max_prompt_tokens = flags.max_prompt_tokens;
  auto engine = ScoringEngine::Load(flags.model_dir, engine_options);
  if (!engine.ok()) {
    spdlog::error("cannot load the model: {}", std::string(engine.status().message()));
    return 1;
  }
  FeatureRequest request;
  auto layers = (*engine)->ResolveLayers(flags.layers);
  auto channels = (*engine)->ResolveChannels(flags.exclude_channels);
  if (!layers.ok() || !channels.ok()) {
    spdlog::error("{}", std::string(!layers.ok() ? layers.status().message() : channels.status().message()));
    return 2;
  }
  request.layers = *layers;
  request.exclude_channels = *channels;
  request.return_hidden = flags.with_hidden;
  request.poolings.clear();
  for (const std::string& p : flags.poolings)
    request.poolings.push_back(p == "mean" ? Pooling::kMean : Pooling::kLastToken);

  std::ifstream file_in;
  std::istream* in = &std::cin;
  if (flags.input != "-") {
    file_in.open(flags.input);
    if (!file_in) {
      spdlog::error("{}: cannot open", flags.input);
      return 2;
    }
    in = &file_in;
  }
  std::ofstream file_out;
  std::ostream* out = &std::cout;
  if (flags.output != "-") {
    file_out.open(flags.output);
    if (!file_out) {
      spdlog::error("{}: cannot write", flags.output);
      return 2;
    }
    out = &file_out;
  }
  const std::string source = flags.input == "-" ? "<stdin>" : flags.input;

  BatcherOptions batcher_options;
  batcher_options.token_budget = flags.token_budget;
  constexpr int kChunkRows = 1024;
  batcher_options.max_queued_prompts = kChunkRows;
  Batcher batcher(**engine, batcher_options);

  int64_t line_number = 0, failed = 0, scored = 0;
  bool eof = false;
  while (!eof) {
    std::vector<Row> rows;
    std::string line;
    while (static_cast<int>(rows.size()) < kChunkRows) {
      if (!std::getline(*in, line)) {
        eof = true;
        break;
      }
      ++line_number;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines are not rows
      Row row;
      row.line = line_number;
      try {
        row.value = json::parse(line);
      } catch (const json::parse_error& e) {
        row.error = std::string("invalid JSON: ") + e.what();
      }
      rows.push_back(std::move(row));
    }
    Countdown pending;
    for (Row& row : rows) {
      if (!row.error.empty()) continue;
      auto input = PromptFromRow(row.value, flags);
      if (!input.ok()) {
        row.error = std::string(input.status().message());
        continue;
      }
      row.job = std::make_shared<ScoreJob>();
      row.job->prompts = {*std::move(input)};
      row.job->features = request;
      row.job->truncate_left = flags.truncate_left;
      Row* target = &row;
      row.job->on_done = [target, &pending](const absl::Status& status, ScoreJob&) {
        if (!status.ok()) {
          // "prompt 0: " adds nothing when a job holds one row.
          absl::string_view message = status.message();
          absl::ConsumePrefix(&message, "prompt 0: ");
          target->error = std::string(message);
        }
        pending.Done();
      };
      pending.Add(1);
      absl::Status admitted = batcher.Submit(row.job);
      if (!admitted.ok()) {  // cannot happen: a chunk never exceeds the queue bound
        row.error = std::string(admitted.message());
        pending.Done();
      }
    }
    pending.Wait();
    for (Row& row : rows) {
      if (!row.error.empty()) {
        ++failed;
        std::cerr << source << ":" << row.line << ": " << row.error << "\n";
        *out << Dump(json{{"line", row.line}, {"error", row.error}}) << "\n";
        continue;
      }
      AddFeaturesToJson(row.job->results.front(), flags.with_hidden, &row.value);
      *out << Dump(row.value) << "\n";
      ++scored;
    }
    out->flush();
  }
  spdlog::info("{}: {} rows scored, {} failed", source, scored, failed);
  return failed > 0 ? 1 : 0;
}

}  // namespace

void AddScoreCommand(CLI::App& app) {
  auto flags = std::make_shared<ScoreFlags>();
  CLI::App* cmd = app.add_subcommand("score", "Score a JSONL file in process: one output row per input row");
  cmd->add_option("--model", flags->model_dir, "model directory")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--input,-i", flags->input, "JSONL input ('-' = stdin)")->capture_default_str();
  cmd->add_option("--output,-o", flags->output, "JSONL output ('-' = stdout)")->capture_default_str();
  cmd->add_option("--field", flags->field, "row field holding the prompt text (or token ids)")->capture_default_str();
  cmd->add_option("--layers", flags->layers, "hidden-state indices (negative from the end; default: last)")->delimiter(',');
  cmd->add_option("--poolings", flags->poolings, "last_token and/or mean")
      ->delimiter(',')->check(CLI::IsMember({"last_token", "mean"}))->capture_default_str();
  cmd->add_option("--exclude-channels", flags->exclude_channels, "channels left out of the metrics")->delimiter(',');
  cmd->add_flag("--with-hidden", flags->with_hidden, "add the pooled hidden vector as 'hidden'");
  cmd->add_flag("--chat-template", flags->chat_template, "wrap each prompt as a user message in the chat template");
  cmd->add_flag("--truncate-left", flags->truncate_left, "keep the last max-prompt-tokens tokens of long prompts");
  cmd->add_option("--token-budget", flags->token_budget, "padded tokens per forward pass")->capture_default_str();
  cmd->add_option("--max-prompt-tokens", flags->max_prompt_tokens, "0: min(max_position_embeddings, 8192)");
  cmd->callback([flags] {
    int rc = RunScore(*flags);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace sparsegate::cli

#include "apps/cli/score_command.h"

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <climits>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "apps/cli/device_flags.h"
#include "apps/cli/feature_json.h"
#include "apps/offline/dataset/jsonl_rows.h"
#include "apps/offline/sources/in_process_scorer.h"
#include "difficulty_service/core/engine/scoring_engine.h"
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
  DeviceFlags device;
};

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
      // Checked before narrowing: 4294967301 must not be scored as id 5.
      const bool fits = v.is_number_unsigned() ? v.get<uint64_t>() <= uint64_t{INT32_MAX}
                                               : v.get<int64_t>() >= INT32_MIN && v.get<int64_t>() <= INT32_MAX;
      if (!fits)
        return absl::InvalidArgumentError(absl::StrCat("field '", flags.field, "': token id ", v.dump(), " at position ",
                                                       ids.size(), " is outside the vocabulary"));
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
  engine_options.device = flags.device.Device();
  engine_options.dtype = flags.device.Dtype();
  engine_options.cpu_matmul = flags.device.Matmul();
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
  for (const std::string& p : flags.poolings) request.poolings.push_back(*PoolingFromName(p));  // CLI checked it

  offline::JsonlFiles files;
  if (int rc = files.Open(flags.input, flags.output); rc != 0) return rc;
  auto scorer = offline::InProcessScorer::Create(**engine, request, flags.truncate_left, flags.token_budget);
  if (!scorer.ok()) {
    spdlog::error("{}", std::string(scorer.status().message()));
    return 1;
  }

  constexpr size_t kChunkRows = 1024;
  offline::JsonlReader reader(*files.in);
  int64_t failed = 0, scored = 0;
  for (bool eof = false; !eof;) {
    std::vector<offline::JsonlRow> rows;
    std::vector<absl::StatusOr<PromptInput>> inputs;
    while (rows.size() < kChunkRows) {
      std::optional<offline::JsonlRow> row = reader.Next();
      if (!row) {
        eof = true;
        break;
      }
      inputs.push_back(row->error.empty() ? PromptFromRow(row->value, flags)
                                          : absl::StatusOr<PromptInput>(absl::InvalidArgumentError(row->error)));
      rows.push_back(*std::move(row));
    }
    std::vector<PromptInput> valid;
    for (auto& input : inputs)
      if (input.ok()) valid.push_back(*input);
    std::vector<absl::StatusOr<ScoredPrompt>> results = (*scorer)->Score(std::move(valid));
    for (size_t i = 0, next = 0; i < rows.size(); ++i) {
      absl::Status status = inputs[i].status();
      if (inputs[i].ok()) {
        status = results[next].status();
        if (status.ok()) AddFeaturesToJson(*results[next], flags.with_hidden, &rows[i].value);
        ++next;
      }
      if (!status.ok()) {
        ++failed;
        files.Error(rows[i].line, std::string(status.message()));
        continue;
      }
      files.Write(rows[i].value);
      ++scored;
    }
    files.out->flush();
  }
  spdlog::info("{}: {} rows scored, {} failed, {} blank lines skipped", files.source(), scored, failed,
               reader.blank_lines());
  return failed > 0 ? 1 : 0;
}

}  // namespace

void AddScoreCommand(CLI::App& app) {
  auto flags = std::make_shared<ScoreFlags>();
  CLI::App* cmd = app.add_subcommand("score", "Score a JSONL file in process: one output row per input row");
  cmd->add_option("--model", flags->model_dir, "model directory")->required()->check(CLI::ExistingDirectory);
  AddDeviceOptions(cmd, &flags->device);
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
  cmd->add_option("--token-budget", flags->token_budget, "padded tokens per forward pass (on a GPU, at most what its free memory holds)")->capture_default_str();
  cmd->add_option("--max-prompt-tokens", flags->max_prompt_tokens, "0: min(max_position_embeddings, 8192)");
  cmd->callback([flags] {
    int rc = RunScore(*flags);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace sparsegate::cli

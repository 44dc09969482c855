#include "apps/cli/generate_command.h"

#include <c10/core/InferenceMode.h>
#include <spdlog/spdlog.h>

#include <ATen/Parallel.h>
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <thread>

#include "apps/cli/device_flags.h"
#include "apps/offline/dataset/jsonl_rows.h"
#include "difficulty_service/core/checkpoint/checkpoint.h"
#include "difficulty_service/core/model/decoder_model.h"
#include "difficulty_service/core/model/generation.h"
#include "difficulty_service/core/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"

namespace sparsegate::cli {
namespace {

using nlohmann::json;

struct GenerateFlags {
  std::string model_dir;
  std::string input = "-";
  std::string output = "-";
  std::string field = "prompt";
  int samples = 1;
  double temperature = 0.0;
  uint64_t seed = 0;
  int max_new_tokens = 256;
  DeviceFlags device;
};

int RunGenerate(const GenerateFlags& flags) {
  auto checkpoint = Checkpoint::Open(flags.model_dir);
  if (!checkpoint.ok()) {
    spdlog::error("cannot load the model: {}", std::string(checkpoint.status().message()));
    return 1;
  }
  ModelLoadOptions load_options;
  load_options.lm_head = true;
  load_options.device = flags.device.Device();
  load_options.dtype = flags.device.Dtype();
  load_options.cpu_matmul = flags.device.Matmul();
  auto model = DecoderModel::Load(**checkpoint, load_options);
  auto tokenizer = Tokenizer::FromFile((*checkpoint)->tokenizer_json_path());
  if (!model.ok() || !tokenizer.ok()) {
    spdlog::error("cannot load the model: {}",
                  std::string(!model.ok() ? model.status().message() : tokenizer.status().message()));
    return 1;
  }
  offline::JsonlFiles files;
  if (int rc = files.Open(flags.input, flags.output); rc != 0) return rc;

  c10::InferenceMode inference;
  at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  GenerationOptions options;
  options.max_new_tokens = flags.max_new_tokens;
  options.temperature = flags.temperature;
  options.num_samples = flags.samples;
  options.stop_ids = (*model)->config().eos_token_ids;

  int64_t failed = 0, done = 0;
  offline::JsonlReader reader(*files.in);
  while (auto row = reader.Next()) {
    absl::StatusOr<std::string> text = absl::InvalidArgumentError(row->error);
    if (row->error.empty()) text = offline::StringField(row->value, flags.field);
    absl::StatusOr<std::vector<int32_t>> ids = text.ok() ? (*tokenizer)->Encode(*text, /*add_special_tokens=*/true)
                                                         : text.status();
    if (ids.ok() && ids->empty()) ids = absl::InvalidArgumentError("prompt is empty");
    if (!ids.ok()) {
      ++failed;
      files.Error(row->line, std::string(ids.status().message()));
      continue;
    }
    options.seed = flags.seed + static_cast<uint64_t>(row->line);
    json completions = json::array();
    for (const auto& sample : Generate(**model, *ids, options))
      completions.push_back((*tokenizer)->Decode(sample, /*skip_special_tokens=*/true));
    row->value["completions"] = std::move(completions);
    files.Write(row->value);
    ++done;
  }
  spdlog::info("{}: {} rows generated, {} failed, {} blank lines skipped", files.source(), done, failed,
               reader.blank_lines());
  return failed > 0 ? 1 : 0;
}

}  // namespace

void AddGenerateCommand(CLI::App& app) {
  auto flags = std::make_shared<GenerateFlags>();
  CLI::App* cmd = app.add_subcommand("generate", "Continue every prompt of a JSONL file in process (greedy or sampled)");
  cmd->add_option("--model", flags->model_dir, "model directory")->required()->check(CLI::ExistingDirectory);
  AddDeviceOptions(cmd, &flags->device);
  cmd->add_option("--input,-i", flags->input, "JSONL input ('-' = stdin)")->capture_default_str();
  cmd->add_option("--output,-o", flags->output, "JSONL output ('-' = stdout)")->capture_default_str();
  cmd->add_option("--field", flags->field, "row field holding the prompt text")->capture_default_str();
  cmd->add_option("--samples", flags->samples, "continuations per prompt")->check(CLI::Range(1, 1024))->capture_default_str();
  cmd->add_option("--temperature", flags->temperature, "0: greedy")->check(CLI::Range(0.0, 100.0))->capture_default_str();
  cmd->add_option("--seed", flags->seed, "sampling seed (each row uses seed + its line number)")->capture_default_str();
  cmd->add_option("--max-new-tokens", flags->max_new_tokens, "tokens generated at most per continuation")
      ->check(CLI::Range(1, 1 << 20))->capture_default_str();
  cmd->callback([flags] {
    int rc = RunGenerate(*flags);
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace sparsegate::cli

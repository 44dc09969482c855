// The whole plugin as a trainer uses it: score a batch with the difficulty
// service, decide per prompt, learn from the rewards afterwards.
//
// Gate joins a DifficultyClient and a TrainerPlugin. Decide() asks the
// service for the batch's features (failing open per prompt) and returns one
// Decision per prompt in order; with a tokenizer it also returns the hinted
// prompt's token ids for trainers that work in ids. Observe(), BeginEpoch(),
// Save() and Load() pass through to the plugin; ReloadService() to the client.
#ifndef SPARSEGATE_TRAINER_PLUGIN_GATE_H_
#define SPARSEGATE_TRAINER_PLUGIN_GATE_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer_plugin/client/difficulty_client.h"
#include "trainer_plugin/plugin.h"
#include "trainer_plugin/selection.h"

namespace sparsegate {
class Tokenizer;
}

namespace sparsegate::plugin {

struct GateOptions {
  ClientOptions client;
  PluginConfig plugin;
  // A tokenizer.json (or a model directory holding one) to return hinted
  // prompts as token ids too; empty: text only.
  std::string tokenizer_path;
  // Seeds the draws of Select's Thompson rule, so that a run can be repeated (the draws are not
  // saved: a resumed run draws anew).
  uint64_t selection_seed = 0;
};

struct GatedDecision {
  Decision decision;
  // With a tokenizer, for a prompt given as ids: the prompt's ids followed by
  // the ids of the hint text (GUIDE), else the prompt's ids unchanged.
  std::vector<int32_t> prompt_ids;
};

struct GatePrompt {
  std::string id;
  std::string text;                               // used for hints and for scoring when ids are empty
  std::vector<int32_t> ids;                       // scored as given when non-empty
  std::optional<std::string> reference_solution;  // enables GUIDE
};

class Gate {
 public:
  static absl::StatusOr<std::unique_ptr<Gate>> Create(const GateOptions& options);
  ~Gate();

  // `fits`: the trainer's prompt-length budget (TrainerPlugin::Decide); none, no budget.
  absl::StatusOr<std::vector<GatedDecision>> Decide(const std::vector<GatePrompt>& batch,
                                                    const PromptFits& fits = nullptr);
  // Decide() over an oversampled candidate batch, then the `count` decisions to roll out, in
  // input order, chosen by `selection` (selection.h; by default the expected pass rate nearest
  // 0.5). The others are not to be rolled out and need no Observe.
  absl::StatusOr<std::vector<GatedDecision>> Select(const std::vector<GatePrompt>& candidates, size_t count,
                                                    const SelectionOptions& selection = {},
                                                    const PromptFits& fits = nullptr);
  absl::Status Observe(const std::string& prompt_id, const std::vector<double>& rewards,
                       const std::vector<double>& completion_tokens = {});
  absl::Status BeginEpoch(int64_t epoch);
  // Asks the service to score with the checkpoint in `model_dir` from now on (DifficultyClient::
  // Reload): a trainer calls it with the policy's latest weights so that the features follow the
  // policy. Every later Decision names the digest of the model that scored it.
  absl::StatusOr<std::vector<ReloadResult>> ReloadService(const std::string& model_dir,
                                                          std::chrono::milliseconds timeout);
  absl::Status Save(const std::string& path) const;
  absl::Status Load(const std::string& path);

  TrainerPlugin& plugin() { return *plugin_; }
  DifficultyClient& client() { return *client_; }

 private:
  Gate() = default;

  std::unique_ptr<DifficultyClient> client_;
  std::unique_ptr<TrainerPlugin> plugin_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::mutex selection_mutex_;
  std::mt19937_64 selection_rng_;  // guarded by selection_mutex_
};

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_GATE_H_

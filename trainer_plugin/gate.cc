#include "trainer_plugin/gate.h"

#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "difficulty_service/core/tokenizer/tokenizer.h"

namespace sparsegate::plugin {

absl::StatusOr<std::unique_ptr<Gate>> Gate::Create(const GateOptions& options) {
  std::unique_ptr<Gate> gate(new Gate);
  auto client = DifficultyClient::Create(options.client);
  if (!client.ok()) return client.status();
  gate->client_ = *std::move(client);
  gate->selection_rng_.seed(options.selection_seed);
  auto plugin = TrainerPlugin::Create(gate->client_->schema(), options.plugin);
  if (!plugin.ok()) return plugin.status();
  gate->plugin_ = *std::move(plugin);
  if (!options.tokenizer_path.empty()) {
    std::string path = options.tokenizer_path;
    std::error_code not_a_directory;  // a path that cannot be looked up is the tokenizer loader's error to report
    if (std::filesystem::is_directory(path, not_a_directory)) path = (std::filesystem::path(path) / "tokenizer.json").string();
    auto tokenizer = Tokenizer::FromFile(path);
    if (!tokenizer.ok()) return tokenizer.status();
    gate->tokenizer_ = *std::move(tokenizer);
  }
  return gate;
}

Gate::~Gate() = default;

absl::StatusOr<std::vector<GatedDecision>> Gate::Decide(const std::vector<GatePrompt>& batch, const PromptFits& fits) {
  std::vector<ScoreInput> inputs(batch.size());
  std::vector<PromptInfo> infos(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].text.empty() && batch[i].ids.empty())
      return absl::InvalidArgumentError(absl::StrCat("prompt ", i, " ('", batch[i].id, "') has neither text nor ids"));
    inputs[i].text = batch[i].text;
    inputs[i].ids = batch[i].ids;
    infos[i] = PromptInfo{batch[i].id, batch[i].text, batch[i].reference_solution};
  }
  if (absl::Status ids = CheckBatchIds(infos); !ids.ok()) return ids;  // before the service is called
  // Rungs chosen by prediction: each prompt's hinted variants go in the same call, after the prompts
  // (a prompt given as ids needs the tokenizer to be hinted as ids; without one it climbs the ladder).
  std::vector<std::pair<size_t, size_t>> variant_span(batch.size(), {0, 0});  // first input, count
  for (size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i].ids.empty() && !tokenizer_) continue;
    std::vector<HintedVariant> variants = plugin_->HintedVariants(infos[i]);
    variant_span[i] = {inputs.size(), variants.size()};
    for (HintedVariant& v : variants) {
      ScoreInput input;
      if (batch[i].ids.empty()) {
        input.text = std::move(v.prompt_text);
      } else {
        auto hint_ids = tokenizer_->Encode(v.hint_text, /*add_special_tokens=*/false);
        if (!hint_ids.ok()) return hint_ids.status();
        input.ids = batch[i].ids;
        input.ids.insert(input.ids.end(), hint_ids->begin(), hint_ids->end());
      }
      inputs.push_back(std::move(input));
    }
  }
  std::vector<PromptFeatures> features = client_->Score(inputs);
  std::vector<std::vector<PromptFeatures>> hinted;
  if (inputs.size() > batch.size()) {
    hinted.resize(batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      const auto [first, count] = variant_span[i];
      hinted[i].assign(std::make_move_iterator(features.begin() + first),
                       std::make_move_iterator(features.begin() + first + count));
    }
    features.resize(batch.size());
  }
  auto decisions = plugin_->Decide(infos, features, fits, hinted);
  if (!decisions.ok()) return decisions.status();

  std::vector<GatedDecision> out(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    out[i].decision = std::move((*decisions)[i]);
    out[i].decision.model_digest = features[i].model_digest;
    if (batch[i].ids.empty()) continue;
    // A trainer working in ids gets ids back: the prompt's own, then the
    // hint's. Without a tokenizer the hint cannot be given as ids.
    out[i].prompt_ids = batch[i].ids;
    const Decision& d = out[i].decision;
    if (d.kind == DecisionKind::kGuide && !d.hint_text.empty()) {
      if (!tokenizer_)
        return absl::FailedPreconditionError(
            absl::StrCat("prompt '", batch[i].id, "' is guided and given as ids, but the gate has no tokenizer_path"));
      auto hint_ids = tokenizer_->Encode(d.hint_text, /*add_special_tokens=*/false);
      if (!hint_ids.ok()) return hint_ids.status();
      out[i].prompt_ids.insert(out[i].prompt_ids.end(), hint_ids->begin(), hint_ids->end());
    }
  }
  return out;
}

absl::StatusOr<std::vector<GatedDecision>> Gate::Select(const std::vector<GatePrompt>& candidates, size_t count,
                                                        const SelectionOptions& selection, const PromptFits& fits) {
  if (!(selection.target >= 0 && selection.target <= 1)) {  // NaN included
    return absl::InvalidArgumentError(
        absl::StrCat("select: target is ", selection.target, "; it must be a pass rate in [0, 1]"));
  }
  if (selection.group_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("select: group_size is ", selection.group_size, "; it must be at least 1"));
  }
  if (selection.vary_group_size &&
      !(selection.min_group_size >= 1 && selection.min_group_size <= selection.group_size &&
        selection.group_size <= selection.max_group_size)) {
    return absl::InvalidArgumentError(absl::StrCat("select: group sizes must satisfy 1 <= min_group_size (",
                                                   selection.min_group_size, ") <= group_size (", selection.group_size,
                                                   ") <= max_group_size (", selection.max_group_size, ")"));
  }
  auto decided = Decide(candidates, fits);
  if (!decided.ok()) return decided.status();
  std::vector<Decision> decisions;
  decisions.reserve(decided->size());
  for (const GatedDecision& d : *decided) decisions.push_back(d.decision);
  std::vector<size_t> indices;
  {
    std::lock_guard<std::mutex> lock(selection_mutex_);
    indices = SelectCandidates(decisions, count, selection, &selection_rng_);
  }
  std::vector<GatedDecision> chosen;
  for (size_t i : indices) chosen.push_back(std::move((*decided)[i]));
  if (selection.vary_group_size) {
    // Candidates without a posterior (decided without features) keep the trainer's own group size
    // and take it out of the total.
    std::vector<PassRatePosterior> beliefs;
    std::vector<size_t> believed;
    int64_t total = static_cast<int64_t>(chosen.size()) * selection.group_size;
    for (size_t k = 0; k < chosen.size(); ++k) {
      if (chosen[k].decision.pass_rate_posterior) {
        beliefs.push_back(*chosen[k].decision.pass_rate_posterior);
        believed.push_back(k);
      } else {
        chosen[k].decision.recommended_group_size = selection.group_size;
        total -= selection.group_size;
      }
    }
    const std::vector<int> sizes =
        AllocateGroupSizes(beliefs, total, selection.min_group_size, selection.max_group_size);
    for (size_t j = 0; j < believed.size(); ++j) chosen[believed[j]].decision.recommended_group_size = sizes[j];
  }
  return chosen;
}

absl::Status Gate::Observe(const std::string& prompt_id, const std::vector<double>& rewards,
                           const std::vector<double>& completion_tokens) {
  return plugin_->Observe(prompt_id, rewards, completion_tokens);
}
absl::Status Gate::BeginEpoch(int64_t epoch) { return plugin_->BeginEpoch(epoch); }
absl::StatusOr<std::vector<ReloadResult>> Gate::ReloadService(const std::string& model_dir,
                                                              std::chrono::milliseconds timeout) {
  return client_->Reload(model_dir, timeout);
}
absl::Status Gate::Save(const std::string& path) const { return plugin_->Save(path); }
absl::Status Gate::Load(const std::string& path) { return plugin_->Load(path); }

}  // namespace sparsegate::plugin

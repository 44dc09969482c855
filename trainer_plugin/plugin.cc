#include "trainer_plugin/plugin.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "trainer_plugin/state/plugin_checkpoint.h"

namespace sparsegate::plugin {
namespace {

bool HasUsableReference(const PromptInfo& info) {
  return info.reference_solution && !info.reference_solution->empty() &&
         CheckReferenceSolution(*info.reference_solution).ok();
}

// The first difference between two schemas, for an error message.
std::string DescribeSchemaDifference(const FeatureSchema& ours, const FeatureSchema& theirs) {
  for (size_t i = 0; i < ours.size() && i < theirs.size(); ++i) {
    if (ours.columns[i] != theirs.columns[i]) {
      return absl::StrCat("column ", i, " is '", theirs.columns[i], "' there and '", ours.columns[i], "' here");
    }
  }
  return absl::StrCat(theirs.size(), " columns there, ", ours.size(), " here");
}

// How much a decision's posterior trusts the prediction, per model (PolicyConfig::
// expectation_prior_by_quality): 2 x AUROC - 1 on the held-out groups, which is 0 for a predictor
// no better than chance and 1 for a perfect ranking, floored at 1/8 so that the prior still
// breaks ties between prompts never seen. Unmeasured models get the floor.
constexpr double kPriorWeightFloor = 1.0 / 8;

struct PriorWeights {
  double prior = 1;
  double supervised = 1;
  double For(PredictionSource source) const { return source == PredictionSource::kPrior ? prior : supervised; }
};

PriorWeights PriorWeightsFor(const PassRatePredictor& predictor, const PolicyConfig& config) {
  if (!config.expectation_prior_by_quality) return {};
  auto weight = [](const std::optional<double>& auroc) {
    return auroc ? std::clamp(2 * *auroc - 1, kPriorWeightFloor, 1.0) : kPriorWeightFloor;
  };
  const PredictorQuality quality = predictor.Quality();
  return {weight(quality.prior.zero_pass_auroc),
          weight(quality.supervised ? quality.supervised->zero_pass_auroc : std::nullopt)};
}

}  // namespace

TrainerPlugin::TrainerPlugin(FeatureSchema schema, PluginConfig config, PassRatePredictor predictor, Policy policy)
    : schema_(std::move(schema)),
      config_(std::move(config)),
      predictor_(std::move(predictor)),
      policy_(std::move(policy)),
      rollout_cost_(config_.policy.expectation_decay) {
  counters_.decisions_by_hint_level.assign(policy_.rungs() + 1, 0);
}

absl::StatusOr<std::unique_ptr<TrainerPlugin>> TrainerPlugin::Create(FeatureSchema schema, PluginConfig config) {
  // Choosing rungs by prediction needs a predictor that reads the hint (PredictorConfig).
  config.predictor.hint_fraction_column = config.predictor.hint_fraction_column || config.policy.rungs_by_prediction;
  if (absl::Status s = ValidateHintTemplate(config.hint_template); !s.ok()) return s;
  if (absl::Status s = ValidateHintCutOptions(config.hint_cut); !s.ok()) return s;
  absl::StatusOr<PassRatePredictor> predictor = PassRatePredictor::Create(schema, config.predictor);
  if (!predictor.ok()) return predictor.status();
  absl::StatusOr<Policy> policy = Policy::Create(config.policy);
  if (!policy.ok()) return policy.status();
  return std::unique_ptr<TrainerPlugin>(
      new TrainerPlugin(std::move(schema), std::move(config), std::move(*predictor), std::move(*policy)));
}

absl::Status TrainerPlugin::SetPriorReference(const std::vector<PromptFeatures>& reference) {
  std::lock_guard<std::mutex> lock(mutex_);
  return predictor_.SetReference(reference);
}

absl::StatusOr<HintCut> TrainerPlugin::Hint(const PromptInfo& info, double fraction, HintedVariant& variant) const {
  const std::string& solution = *info.reference_solution;  // callers hint only prompts with a reference
  absl::StatusOr<HintCut> cut = CutReferenceSolution(solution, fraction, config_.hint_cut);
  if (!cut.ok()) return absl::InvalidArgumentError(absl::StrCat("prompt '", info.id, "': ", cut.status().message()));
  variant.hint_text = RenderHintBlock(config_.hint_template, std::string_view(solution).substr(0, cut->bytes));
  variant.prompt_text = ApplyHintBlock(info.prompt, variant.hint_text);
  return cut;
}

std::vector<HintedVariant> TrainerPlugin::HintedVariants(const PromptInfo& info) const {
  if (!config_.policy.rungs_by_prediction || !HasUsableReference(info)) return {};
  std::vector<HintedVariant> variants(config_.policy.hint_ladder.size());
  for (size_t r = 0; r < variants.size(); ++r) {
    if (!Hint(info, config_.policy.hint_ladder[r], variants[r]).ok()) return {};  // unreachable: usable reference
  }
  return variants;
}

absl::StatusOr<Decision> TrainerPlugin::Finish(const PromptInfo& info, PolicyDecision decision,
                                               const std::optional<Prediction>& prediction, bool fail_open) const {
  Decision d;
  d.prompt_id = info.id;
  d.kind = decision.kind;
  d.hint_level = decision.hint_level;
  d.hint_fraction = decision.hint_fraction;
  d.prompt_text = info.prompt;
  d.prediction = prediction;
  d.rung_pass_rates = std::move(decision.rung_pass_rates);
  d.fail_open = fail_open;
  d.reason = std::move(decision.reason);
  if (decision.kind == DecisionKind::kGuide) {
    HintedVariant hinted;
    absl::StatusOr<HintCut> cut = Hint(info, decision.hint_fraction, hinted);
    if (!cut.ok()) return cut.status();
    d.hint_boundary = cut->boundary;
    d.hint_text = std::move(hinted.hint_text);
    d.prompt_text = std::move(hinted.prompt_text);
    absl::StrAppend(&d.reason, "; hint of ", cut->bytes, "/", info.reference_solution->size(), " bytes, cut at ",
                    std::string(CutBoundaryName(cut->boundary)));
  }
  return d;
}

void TrainerPlugin::Count(const Decision& decision) {
  ++counters_.decisions[static_cast<int>(decision.kind)];
  if (decision.fail_open) ++counters_.fail_open_decisions;
  if (decision.kind == DecisionKind::kKeep || decision.kind == DecisionKind::kGuide) {
    ++counters_.decisions_by_hint_level[decision.hint_level];
  }
}

absl::Status TrainerPlugin::FitHint(size_t index, const PromptInfo& info, const PromptFits& fits,
                                    Decision& decision) {
  if (!fits || decision.kind != DecisionKind::kGuide) return absl::OkStatus();
  absl::StatusOr<bool> fit = fits(index, decision.prompt_text);
  if (!fit.ok()) return fit.status();
  if (*fit) return absl::OkStatus();

  // The longest hint below the rung's that fits: a bisection over the fraction, each cut moved back
  // to a step boundary by the cutter. A longer fraction never gives a shorter cut, so the prompt's
  // length grows with it and bisection finds the boundary (8 halvings: within 1/256 of the rung).
  const std::string& solution = *info.reference_solution;
  double low = 0;
  double high = decision.hint_fraction;
  std::optional<HintCut> best;
  std::string best_block;
  for (int i = 0; i < 8; ++i) {
    const double fraction = (low + high) / 2;
    absl::StatusOr<HintCut> cut = CutReferenceSolution(solution, fraction, config_.hint_cut);
    if (!cut.ok()) return cut.status();  // unreachable: the reference was checked before deciding
    std::string block = RenderHintBlock(config_.hint_template, std::string_view(solution).substr(0, cut->bytes));
    fit = fits(index, ApplyHintBlock(info.prompt, block));
    if (!fit.ok()) return fit.status();
    if (*fit) {
      low = fraction;
      if (!best || cut->bytes > best->bytes) {
        best = *cut;
        best_block = std::move(block);
      }
    } else {
      high = fraction;
    }
  }
  if (best && best->bytes > 0) {
    decision.hint_boundary = best->boundary;
    decision.hint_text = std::move(best_block);
    decision.prompt_text = ApplyHintBlock(info.prompt, decision.hint_text);
    absl::StrAppend(&decision.reason, "; hint shortened to ", best->bytes, "/", solution.size(),
                    " bytes to fit the prompt-length budget");
    ++counters_.hints_shortened_to_fit;
    return absl::OkStatus();
  }
  decision.kind = DecisionKind::kKeep;
  decision.hint_level = 0;
  decision.hint_fraction = 0;
  decision.hint_text.clear();
  decision.hint_boundary = CutBoundary::kEmpty;
  decision.prompt_text = info.prompt;
  absl::StrAppend(&decision.reason, "; no hint fits the prompt-length budget: rolled out unhinted (KEEP)");
  policy_.WithholdHint(info.id);
  ++counters_.hints_withheld_to_fit;
  return absl::OkStatus();
}

absl::StatusOr<Decision> TrainerPlugin::FailOpen(size_t index, const PromptInfo& info, const PromptFits& fits) {
  const bool has_reference = HasUsableReference(info);
  PolicyDecision decision = policy_.DecideWithoutFeatures(info.id, has_reference);
  pending_.erase(info.id);  // nothing to learn from this prompt's outcome without its features
  absl::StatusOr<Decision> finished = Finish(info, std::move(decision), std::nullopt, /*fail_open=*/true);
  Decision d;
  if (finished.ok()) {
    d = *std::move(finished);
  } else {  // unreachable: Finish fails only on an invalid reference, ruled out above
    d.prompt_id = info.id;
    d.prompt_text = info.prompt;
    d.fail_open = true;
    d.reason = absl::StrCat("fail-open: KEEP (", finished.status().message(), ")");
  }
  if (absl::Status s = FitHint(index, info, fits, d); !s.ok()) return s;
  Count(d);
  return d;
}

absl::Status CheckBatchIds(const std::vector<PromptInfo>& batch) {
  std::unordered_map<std::string_view, size_t> first;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].id.empty()) return absl::InvalidArgumentError(absl::StrCat("prompt ", i, " has an empty id"));
    auto [it, fresh] = first.emplace(batch[i].id, i);
    // The plugin keeps one pending decision per id: a second would replace the first, and the
    // rewards of one group would be observed against the other's decision.
    if (!fresh)
      return absl::InvalidArgumentError(absl::StrCat("prompts ", it->second, " and ", i, " share the id '", batch[i].id,
                                                     "'; ids must be unique within a batch"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Decision>> TrainerPlugin::Decide(const std::vector<PromptInfo>& batch,
                                                            const std::vector<PromptFeatures>& features,
                                                            const PromptFits& fits,
                                                            const std::vector<std::vector<PromptFeatures>>& hinted_variants) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (batch.size() != features.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Decide got ", batch.size(), " prompts but ", features.size(), " feature entries"));
  }
  if (!hinted_variants.empty() && hinted_variants.size() != batch.size()) {
    return absl::InvalidArgumentError(absl::StrCat("Decide got ", batch.size(), " prompts but hinted variants for ",
                                                   hinted_variants.size()));
  }
  // Check everything before changing anything.
  if (absl::Status ids = CheckBatchIds(batch); !ids.ok()) return ids;
  std::vector<std::optional<EncodedPrompt>> encoded(batch.size());
  std::vector<std::string> reference_ids;
  std::vector<EncodedPrompt> reference_prompts;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (batch[i].id.empty()) return absl::InvalidArgumentError(absl::StrCat("prompt ", i, " has an empty id"));
    if (batch[i].reference_solution) {
      if (absl::Status s = CheckReferenceSolution(*batch[i].reference_solution); !s.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("prompt ", i, " ('", batch[i].id, "'): ", s.message()));
      }
    }
    if (features[i].empty()) continue;
    absl::StatusOr<EncodedPrompt> e = predictor_.Encode(features[i]);
    if (!e.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("prompt ", i, " ('", batch[i].id, "'): ", e.status().message()));
    }
    encoded[i] = *e;
    reference_ids.push_back(batch[i].id);
    reference_prompts.push_back(*std::move(e));
  }
  // The hinted variants' features, encoded with their rung's fraction; a prompt gets none unless
  // every rung was scored.
  const std::vector<double>& ladder = config_.policy.hint_ladder;
  std::vector<std::vector<EncodedPrompt>> variants(batch.size());
  int64_t variants_scored = 0, variant_tokens = 0;
  for (size_t i = 0; i < hinted_variants.size(); ++i) {
    const std::vector<PromptFeatures>& scored = hinted_variants[i];
    if (scored.empty()) continue;
    if (scored.size() != ladder.size()) {
      return absl::InvalidArgumentError(absl::StrCat("prompt ", i, " ('", batch[i].id, "'): ", scored.size(),
                                                     " hinted variants; the ladder has ", ladder.size(), " rungs"));
    }
    std::vector<EncodedPrompt> rungs;
    for (size_t r = 0; r < scored.size(); ++r) {
      if (scored[r].empty()) continue;
      absl::StatusOr<EncodedPrompt> e = predictor_.Encode(scored[r]);
      if (!e.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("prompt ", i, " ('", batch[i].id, "'), hinted variant at rung ",
                                                       r + 1, ": ", e.status().message()));
      }
      e->hint_fraction = ladder[r];
      ++variants_scored;
      variant_tokens += scored[r].token_count;
      rungs.push_back(*std::move(e));
    }
    if (rungs.size() == ladder.size() && encoded[i]) variants[i] = std::move(rungs);
  }
  counters_.hint_variants_scored += variants_scored;
  counters_.hint_variant_tokens += variant_tokens;

  if (absl::Status s = predictor_.Refit(); !s.ok()) return s;
  predictor_.AddToReference(reference_ids, reference_prompts);

  const PriorWeights prior_weights = PriorWeightsFor(predictor_, config_.policy);
  std::vector<Decision> decisions;
  decisions.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const PromptInfo& info = batch[i];
    if (!encoded[i]) {
      absl::StatusOr<Decision> d = FailOpen(i, info, fits);
      if (!d.ok()) return d.status();
      decisions.push_back(*std::move(d));
      continue;
    }
    if (features[i].truncated) ++counters_.truncated_prompts;
    const Prediction prediction = predictor_.Predict(*encoded[i]);
    std::vector<double> rung_predictions;
    if (!variants[i].empty() && prediction.source == PredictionSource::kSupervised) {
      rung_predictions.push_back(prediction.pass_rate);
      for (const EncodedPrompt& v : variants[i]) rung_predictions.push_back(predictor_.Predict(v).pass_rate);
    }
    PolicyDecision decision = policy_.Decide(info.id, HasUsableReference(info), prediction, rung_predictions);
    const double prior_weight = prior_weights.For(prediction.source);
    const Policy::Belief belief = policy_.BeliefOf(info.id, decision, prediction, prior_weight);
    absl::StatusOr<Decision> d = Finish(info, std::move(decision), prediction, /*fail_open=*/false);
    if (!d.ok()) return d.status();  // unreachable: references were checked above
    d->expected_pass_rate = belief.expected;
    d->pass_rate_posterior = belief.posterior;
    d->expected_completion_tokens = rollout_cost_.Expected(info.id, features[i].token_count);
    const DecisionKind decided = d->kind;
    // Only a GUIDE decision's text can be shortened by FitHint; keep it to see whether it was.
    const std::string hinted_as_decided = d->kind == DecisionKind::kGuide ? d->prompt_text : std::string();
    if (absl::Status s = FitHint(i, info, fits, *d); !s.ok()) return s;
    if (d->kind != decided) {  // the hint was withheld: the rollout is unhinted after all
      const Policy::Belief unhinted = policy_.BeliefOf(info.id, PolicyDecision{}, prediction, prior_weight);
      d->expected_pass_rate = unhinted.expected;
      d->pass_rate_posterior = unhinted.posterior;
    }
    if (d->kind == DecisionKind::kKeep || d->kind == DecisionKind::kGuide) {
      // A group rolled out with the hint exactly as scored is learned from with that variant's
      // features; one with a shortened hint was not scored, and is learned from as the ladder's are.
      const bool as_scored = d->kind == DecisionKind::kGuide && !variants[i].empty() &&
                             d->prompt_text == hinted_as_decided;
      pending_[info.id] = PendingDecision{as_scored ? std::move(variants[i][d->hint_level - 1]) : *std::move(encoded[i]),
                                          d->expected_pass_rate};
    } else {
      pending_.erase(info.id);
    }
    Count(*d);
    decisions.push_back(*std::move(d));
  }
  return decisions;
}

absl::StatusOr<std::vector<Decision>> TrainerPlugin::DecideWithoutFeatures(const std::vector<PromptInfo>& batch,
                                                                           const PromptFits& fits) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (absl::Status ids = CheckBatchIds(batch); !ids.ok()) return ids;
  std::vector<Decision> decisions;
  decisions.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    absl::StatusOr<Decision> d = FailOpen(i, batch[i], fits);
    if (!d.ok()) return d.status();
    decisions.push_back(*std::move(d));
  }
  return decisions;
}

absl::Status TrainerPlugin::Observe(const std::string& prompt_id, const std::vector<double>& rewards,
                                    const std::vector<double>& completion_tokens) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!completion_tokens.empty() && completion_tokens.size() != rewards.size()) {
    return absl::InvalidArgumentError(absl::StrCat("prompt '", prompt_id, "': ", rewards.size(), " rewards but ",
                                                   completion_tokens.size(), " completion lengths"));
  }
  double completion_sum = 0;
  for (size_t k = 0; k < completion_tokens.size(); ++k) {
    if (!(completion_tokens[k] >= 0) || !std::isfinite(completion_tokens[k])) {
      return absl::InvalidArgumentError(absl::StrCat("prompt '", prompt_id, "': completion length ", k, " is ",
                                                     completion_tokens[k], ", not a token count"));
    }
    completion_sum += completion_tokens[k];
  }
  const bool known = policy_.state().prompts.count(prompt_id) > 0;
  absl::StatusOr<GroupOutcome> outcome = policy_.Observe(prompt_id, rewards);
  if (!outcome.ok()) return outcome.status();

  ++counters_.observed_groups;
  if (!known) ++counters_.unknown_prompt_observations;
  if (outcome->successes == 0) ++counters_.zero_pass_groups;
  if (outcome->successes == outcome->trials) ++counters_.all_pass_groups;
  if (outcome->rollout_level > 0) {
    ++counters_.guided_groups;
    if (outcome->successes == 0) ++counters_.guided_zero_pass_groups;
  }

  auto pending = pending_.find(prompt_id);
  if (pending == pending_.end()) return absl::OkStatus();
  if (outcome->rollout_level == 0 && !completion_tokens.empty()) {
    // Hinted rollouts are shorter than the prompt's own would be: only unhinted ones measure its cost.
    const auto prompt_tokens = static_cast<int64_t>(std::llround(std::exp(pending->second.features.log_token_count)));
    absl::Status s = rollout_cost_.Observe(prompt_id, prompt_tokens,
                                           completion_sum / static_cast<double>(completion_tokens.size()));
    if (!s.ok()) return s;  // unreachable: the lengths were checked above
  }
  // The predictor learns the unhinted pass rate: from unhinted groups, and from hinted groups with
  // no success (a hint never makes a prompt harder, so those failed unhinted too). A group rolled
  // out as a scored hinted variant teaches the hint column whatever its result.
  const bool variant_features = pending->second.features.hint_fraction > 0;
  if (outcome->rollout_level == 0 || outcome->successes == 0 || variant_features) {
    absl::Status s = predictor_.Observe(prompt_id, pending->second.features, outcome->successes, outcome->trials);
    if (!s.ok()) return s;
  }
  if (outcome->rollout_level == 0 && outcome->prediction) {
    counters_.RecordCalibration(outcome->prediction->pass_rate, outcome->successes, outcome->trials);
    const double predicted = outcome->prediction->pass_rate;
    counters_.forward.Record({predicted, pending->second.expected_pass_rate.value_or(predicted), outcome->successes,
                              outcome->trials},
                             counters_.observed_groups, config_.predictor.quality_window_groups);
  }
  pending_.erase(pending);
  return absl::OkStatus();
}

absl::Status TrainerPlugin::ObserveOffline(const std::string& prompt_id, const PromptFeatures& features,
                                           int32_t successes, int32_t trials) {
  if (prompt_id.empty()) return absl::InvalidArgumentError("offline outcome with an empty prompt id");
  if (trials < 1 || successes < 0 || successes > trials) {
    return absl::InvalidArgumentError(
        absl::StrCat("prompt '", prompt_id, "': need 0 <= successes <= trials and trials >= 1, got ", successes, " of ",
                     trials));
  }
  std::lock_guard<std::mutex> lock(mutex_);
  absl::StatusOr<EncodedPrompt> encoded = predictor_.Encode(features);
  if (!encoded.ok()) return absl::InvalidArgumentError(absl::StrCat("prompt '", prompt_id, "': ", encoded.status().message()));
  return predictor_.Observe(prompt_id, *encoded, successes, trials);
}

bool TrainerPlugin::IsHoldout(const std::string& prompt_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return predictor_.IsHoldout(prompt_id);
}

absl::Status TrainerPlugin::BeginEpoch(int64_t epoch) {
  std::lock_guard<std::mutex> lock(mutex_);
  return policy_.BeginEpoch(epoch);
}

PluginCheckpoint TrainerPlugin::Snapshot() const {
  PluginCheckpoint checkpoint;
  std::lock_guard<std::mutex> lock(mutex_);
  checkpoint.schema = schema_;
  checkpoint.ladder_rungs = policy_.rungs();
  checkpoint.hidden_probe_dims = config_.predictor.hidden_probe_dims;
  checkpoint.hidden_projection_seed = config_.predictor.hidden_projection_seed;
  checkpoint.predictor = predictor_.state();
  checkpoint.policy = policy_.state();
  checkpoint.counters = counters_;
  checkpoint.pending = pending_;
  checkpoint.rollout_cost = rollout_cost_.state();
  return checkpoint;
}

absl::Status TrainerPlugin::Save(const std::string& path) const { return SaveCheckpoint(path, Snapshot()); }

absl::Status TrainerPlugin::Load(const std::string& path) {
  absl::StatusOr<PluginCheckpoint> checkpoint = LoadCheckpoint(path);
  if (!checkpoint.ok()) return checkpoint.status();
  return Restore(*std::move(checkpoint), absl::StrCat("checkpoint ", path));
}

absl::Status TrainerPlugin::Restore(PluginCheckpoint checkpoint, const std::string& source) {
  auto refuse = [&](absl::string_view why) {
    return absl::FailedPreconditionError(absl::StrCat(source, " does not fit this plugin: ", why));
  };
  if (checkpoint.schema != schema_) {
    return refuse(absl::StrCat("different feature schema (", DescribeSchemaDifference(schema_, checkpoint.schema), ")"));
  }
  if (checkpoint.ladder_rungs != policy_.rungs()) {
    return refuse(absl::StrCat("written with a ", checkpoint.ladder_rungs, "-rung ladder; this one has ",
                               policy_.rungs()));
  }
  if (checkpoint.hidden_probe_dims != config_.predictor.hidden_probe_dims ||
      checkpoint.hidden_projection_seed != config_.predictor.hidden_projection_seed) {
    return refuse("different hidden probe size or projection seed");
  }
  if (checkpoint.counters.decisions_by_hint_level.size() != static_cast<size_t>(policy_.rungs()) + 1) {
    return refuse("its hint-level counters do not match the ladder");
  }
  for (const auto& [id, pending] : checkpoint.pending) {
    const EncodedPrompt& prompt = pending.features;
    const bool projection_fits = prompt.hidden_projection.empty() ||
                                 prompt.hidden_projection.size() ==
                                     static_cast<size_t>(config_.predictor.hidden_probe_dims);
    if (prompt.metrics.size() != schema_.size() || !projection_fits) {
      return refuse(absl::StrCat("pending features of prompt '", id, "' do not fit the schema or probe"));
    }
  }
  absl::StatusOr<PassRatePredictor> predictor =
      PassRatePredictor::Restore(schema_, config_.predictor, std::move(checkpoint.predictor));
  if (!predictor.ok()) return refuse(predictor.status().message());
  absl::StatusOr<Policy> policy = Policy::Create(config_.policy, std::move(checkpoint.policy));
  if (!policy.ok()) return refuse(policy.status().message());

  std::lock_guard<std::mutex> lock(mutex_);
  predictor_ = *std::move(predictor);
  policy_ = *std::move(policy);
  counters_ = std::move(checkpoint.counters);
  pending_ = std::move(checkpoint.pending);
  rollout_cost_ = RolloutCost(config_.policy.expectation_decay, std::move(checkpoint.rollout_cost));
  return absl::OkStatus();
}

PluginStats TrainerPlugin::StatsLocked() const {
  PluginStats stats;
  stats.counters = counters_;
  const PolicyState& state = policy_.state();
  stats.epoch = state.epoch;
  stats.tracked_prompts = static_cast<int64_t>(state.prompts.size());
  stats.prompts_by_hint_level.assign(policy_.rungs() + 1, 0);
  for (const auto& [id, h] : state.prompts) {
    if (h.quarantined_until_epoch && state.epoch < *h.quarantined_until_epoch) ++stats.quarantined_prompts;
    if (h.deferred_until_epoch && state.epoch < *h.deferred_until_epoch) ++stats.deferred_prompts;
    if (h.has_reference) ++stats.prompts_by_hint_level[h.hint_level];
  }
  stats.predictor = predictor_.Quality();
  return stats;
}

PluginStats TrainerPlugin::Stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return StatsLocked();
}

nlohmann::json TrainerPlugin::StatsJson() const { return StatsToJson(Stats()); }

}  // namespace sparsegate::plugin

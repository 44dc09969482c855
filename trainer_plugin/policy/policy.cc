#include "trainer_plugin/policy/policy.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace sparsegate::plugin {
namespace {

std::string Percent(double fraction) { return absl::StrFormat("%g%%", fraction * 100); }

std::string DescribePrediction(const Prediction& p) {
  return absl::StrFormat("predicted pass rate %.3f (%s)", p.pass_rate, PredictionSourceName(p.source));
}

std::string DescribeLastGroup(const PromptHistory& h) {
  return absl::StrCat("last group ", h.last_group_successes, "/", h.last_group_trials, " at rung ",
                      h.last_group_level);
}

}  // namespace

std::string_view DecisionKindName(DecisionKind kind) {
  switch (kind) {
    case DecisionKind::kKeep:
      return "keep";
    case DecisionKind::kGuide:
      return "guide";
    case DecisionKind::kDrop:
      return "drop";
    case DecisionKind::kDefer:
      return "defer";
  }
  return "unknown";
}

std::optional<DecisionKind> DecisionKindFromName(std::string_view name) {
  for (int k = 0; k < kDecisionKindCount; ++k)
    if (DecisionKindName(static_cast<DecisionKind>(k)) == name) return static_cast<DecisionKind>(k);
  return std::nullopt;
}

absl::Status ValidatePolicyConfig(const PolicyConfig& c) {
  if (c.hint_ladder.empty()) return absl::InvalidArgumentError("hint_ladder needs at least one rung");
  for (size_t i = 0; i < c.hint_ladder.size(); ++i) {
    const double f = c.hint_ladder[i];
    if (!(f > 0 && f <= 1) || (i > 0 && !(f > c.hint_ladder[i - 1]))) {
      return absl::InvalidArgumentError(absl::StrCat("hint_ladder must increase within (0, 1]; rung ", i + 1,
                                                     " is ", f));
    }
  }
  if (c.start_rung_below.size() != c.hint_ladder.size()) {
    return absl::InvalidArgumentError(absl::StrCat("start_rung_below has ", c.start_rung_below.size(),
                                                   " thresholds; the ladder has ", c.hint_ladder.size(), " rungs"));
  }
  for (size_t i = 0; i < c.start_rung_below.size(); ++i) {
    const double t = c.start_rung_below[i];
    if (!(t >= 0 && t <= 1) || (i > 0 && !(t < c.start_rung_below[i - 1]))) {
      return absl::InvalidArgumentError(absl::StrCat("start_rung_below must decrease within [0, 1]; entry ", i,
                                                     " is ", t));
    }
  }
  if (!(c.success_threshold > 0 && c.success_threshold <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("success_threshold must be in (0, 1], got ", c.success_threshold));
  }
  if (c.step_down_after_successes < 1 || c.no_reference_quarantine_after < 1 ||
      c.defer_after_all_pass_groups < 1) {
    return absl::InvalidArgumentError(
        "step_down_after_successes, no_reference_quarantine_after and defer_after_all_pass_groups must be >= 1");
  }
  if (c.quarantine_epochs < 0 || c.defer_epochs < 0) {
    return absl::InvalidArgumentError("quarantine_epochs and defer_epochs must be >= 0");
  }
  if (!(c.expectation_prior_rollouts > 0) || !(c.expectation_decay > 0 && c.expectation_decay <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "need expectation_prior_rollouts > 0 and expectation_decay in (0, 1], got ", c.expectation_prior_rollouts,
        " and ", c.expectation_decay));
  }
  if (!(c.rung_band_low >= 0 && c.rung_band_low <= c.rung_band_high && c.rung_band_high <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("need 0 <= rung_band_low <= rung_band_high <= 1, got ",
                                                   c.rung_band_low, " and ", c.rung_band_high));
  }
  if (!(c.drop_hopeless_below >= 0 && c.drop_hopeless_below < 1)) {
    return absl::InvalidArgumentError(absl::StrCat("drop_hopeless_below must be in [0, 1), got ", c.drop_hopeless_below));
  }
  if (!(c.drop_below >= 0 && c.drop_below <= 1) || !(c.defer_above >= 0 && c.defer_above <= 1) ||
      !(c.drop_below < c.defer_above)) {
    return absl::InvalidArgumentError(absl::StrCat("need 0 <= drop_below < defer_above <= 1, got ", c.drop_below,
                                                   " and ", c.defer_above));
  }
  return absl::OkStatus();
}

absl::StatusOr<Policy> Policy::Create(PolicyConfig config, PolicyState state) {
  if (absl::Status s = ValidatePolicyConfig(config); !s.ok()) return s;
  const auto rungs = static_cast<int32_t>(config.hint_ladder.size());
  if (state.rung_successes.size() != state.rung_trials.size() || state.rung_trials.size() > static_cast<size_t>(rungs) + 1) {
    return absl::InvalidArgumentError(absl::StrCat("the state counts groups for ", state.rung_trials.size(),
                                                   " rungs but the ladder has ", rungs + 1, " (unhinted included)"));
  }
  state.rung_successes.resize(rungs + 1, 0);
  state.rung_trials.resize(rungs + 1, 0);
  for (const auto& [id, h] : state.prompts) {
    const size_t evidence = h.rung_evidence_trials.size();
    if ((evidence != 0 && evidence != static_cast<size_t>(rungs) + 1) || h.rung_evidence_successes.size() != evidence) {
      return absl::InvalidArgumentError(absl::StrCat("prompt '", id, "' has evidence for ", evidence,
                                                     " rungs but the ladder has ", rungs + 1, " (unhinted included)"));
    }
    if (h.hint_level < 0 || h.hint_level > rungs || h.last_decision_level < 0 || h.last_decision_level > rungs ||
        h.last_group_level < 0 || h.last_group_level > rungs) {
      return absl::InvalidArgumentError(absl::StrCat("prompt '", id, "' is at rung ", h.hint_level,
                                                     " but the ladder has ", rungs, " rungs"));
    }
  }
  return Policy(std::move(config), std::move(state));
}

PolicyDecision Policy::Guide(int32_t level, std::string reason) const {
  PolicyDecision d;
  d.kind = DecisionKind::kGuide;
  d.hint_level = level;
  d.hint_fraction = config_.hint_ladder[level - 1];
  d.reason = std::move(reason);
  return d;
}

void Policy::SetReference(PromptHistory& history, bool has_reference) {
  history.has_reference = has_reference;
  if (!has_reference) {  // no reference, no ladder: a rung without a hint to show would never move
    history.hint_level = 0;
    history.successes_at_level = 0;
  }
}

void Policy::Remember(PromptHistory& history, const PolicyDecision& decision) {
  history.last_decision = decision.kind;
  history.last_decision_level = decision.hint_level;
}

PolicyDecision Policy::Decide(const std::string& prompt_id, bool has_reference, const Prediction& prediction,
                              const std::vector<double>& rung_predictions) {
  PromptHistory& history = state_.prompts[prompt_id];
  SetReference(history, has_reference);
  history.last_prediction = prediction;
  PolicyDecision decision = DecideFromHistory(history, prediction, rung_predictions);
  Remember(history, decision);
  return decision;
}

PolicyDecision Policy::DecideWithoutFeatures(const std::string& prompt_id, bool has_reference) {
  PromptHistory& history = state_.prompts[prompt_id];
  SetReference(history, has_reference);
  PolicyDecision decision;
  if (config_.fail_open == FailOpenMode::kKeep) {
    decision.reason = "fail-open: no features for this prompt; KEEP";
  } else {
    decision = DecideFromHistory(history, history.last_prediction);
    decision.reason = absl::StrCat("fail-open, from the last known state: ", decision.reason);
  }
  Remember(history, decision);
  return decision;
}

PolicyDecision Policy::DecideFromHistory(PromptHistory& h, const std::optional<Prediction>& prediction,
                                         const std::vector<double>& rung_predictions) {
  std::string preamble;
  if (h.quarantined_until_epoch) {
    if (state_.epoch < *h.quarantined_until_epoch) {
      PolicyDecision d;
      d.kind = DecisionKind::kDrop;
      d.reason = absl::StrCat("quarantined until epoch ", *h.quarantined_until_epoch, ": no success ",
                              h.has_reference && h.hint_level > 0 ? "at the top rung" : "without a reference solution",
                              " (", DescribeLastGroup(h), ")");
      return d;
    }
    h.quarantined_until_epoch.reset();
    h.zero_groups_in_a_row = 0;
    h.successes_at_level = 0;
    preamble = "back from quarantine; ";
  }
  if (h.deferred_until_epoch) {
    if (state_.epoch < *h.deferred_until_epoch) {
      PolicyDecision d;
      d.kind = DecisionKind::kDefer;
      d.reason = absl::StrCat("deferred until epoch ", *h.deferred_until_epoch, ": every rollout passed in ",
                              h.all_pass_groups_in_a_row, " unhinted groups in a row");
      return d;
    }
    h.deferred_until_epoch.reset();
    preamble = "deferral over; ";
  }
  if (config_.rungs_by_prediction && h.has_reference && prediction &&
      rung_predictions.size() == static_cast<size_t>(rungs()) + 1) {
    PolicyDecision d = DecideByPrediction(h, *prediction, rung_predictions);
    d.reason = preamble + d.reason;
    return d;
  }
  if (h.groups == 0) {
    PolicyDecision d = DecideBeforeOutcomes(h, prediction);
    d.reason = preamble + d.reason;
    return d;
  }
  if (h.hint_level > 0 && h.has_reference) {
    return Guide(h.hint_level, absl::StrCat(preamble, "rung ", h.hint_level, " of ", rungs(), " (",
                                            Percent(config_.hint_ladder[h.hint_level - 1]), " of the reference); ",
                                            DescribeLastGroup(h)));
  }
  PolicyDecision d;
  d.reason = absl::StrCat(preamble, h.has_reference ? "" : "no reference solution; ", DescribeLastGroup(h));
  return d;
}

PolicyDecision Policy::DecideBeforeOutcomes(PromptHistory& h, const std::optional<Prediction>& prediction) const {
  PolicyDecision d;
  if (!prediction) {
    d.reason = "no outcome and no prediction yet";
    return d;
  }
  const double p = prediction->pass_rate;
  const bool may_skip = prediction->source == PredictionSource::kSupervised || config_.prior_may_drop_or_defer;
  if (h.has_reference && p < config_.drop_hopeless_below && may_skip) {
    d.kind = DecisionKind::kDrop;
    d.reason = absl::StrFormat("no outcome yet; %s < %g: near-impossible even with a hint",
                               DescribePrediction(*prediction), config_.drop_hopeless_below);
    return d;
  }
  if (h.has_reference) {
    int32_t rung = 0;
    while (rung < rungs() && p < config_.start_rung_below[rung]) ++rung;
    h.hint_level = rung;
    if (rung > 0) {
      return Guide(rung, absl::StrFormat("no outcome yet; %s < %g: start at rung %d (%s of the reference)",
                                         DescribePrediction(*prediction), config_.start_rung_below[rung - 1], rung,
                                         Percent(config_.hint_ladder[rung - 1])));
    }
  } else if (p < config_.drop_below && may_skip) {
    d.kind = DecisionKind::kDrop;
    d.reason = absl::StrFormat("no outcome yet; %s < %g and no reference solution to guide with: near-impossible",
                               DescribePrediction(*prediction), config_.drop_below);
    return d;
  }
  if (config_.enable_defer && p > config_.defer_above && may_skip) {
    d.kind = DecisionKind::kDefer;
    d.reason = absl::StrFormat("no outcome yet; %s > %g: trivially easy", DescribePrediction(*prediction),
                               config_.defer_above);
    return d;
  }
  d.reason = absl::StrCat("no outcome yet; ", DescribePrediction(*prediction));
  return d;
}

PolicyDecision Policy::DecideByPrediction(PromptHistory& h, const Prediction& prediction,
                                          const std::vector<double>& rung_predictions) const {
  const size_t n = rung_predictions.size();
  const double k = config_.expectation_prior_rollouts;
  const bool has_evidence = h.rung_evidence_trials.size() == n;
  std::vector<double> priors(n), expected(n);
  double prior = 0;
  for (size_t r = 0; r < n; ++r) {
    prior = std::max(prior, std::clamp(rung_predictions[r], 0.0, 1.0));  // a hint never makes a prompt harder
    priors[r] = prior;
    const double s = has_evidence ? h.rung_evidence_successes[r] : 0;
    const double t = has_evidence ? h.rung_evidence_trials[r] : 0;
    expected[r] = t == 0 ? prior : (s + k * prior) / (t + k);
  }
  // The smallest rung inside the band, else the nearest to it (the smaller on a tie): one argmin of
  // the distance to the band, taking a later rung only when it is strictly nearer.
  auto distance = [&](double p) {
    return p < config_.rung_band_low ? config_.rung_band_low - p : std::max(0.0, p - config_.rung_band_high);
  };
  size_t rung = 0;
  for (size_t r = 1; r < n; ++r) {
    if (distance(expected[r]) < distance(expected[rung])) rung = r;
  }
  std::string rates;
  for (size_t r = 0; r < n; ++r) absl::StrAppend(&rates, r == 0 ? "" : " / ", absl::StrFormat("%.3f", expected[r]));
  const std::string why = absl::StrFormat("expected pass rates by rung %s, band [%g, %g]", rates,
                                          config_.rung_band_low, config_.rung_band_high);

  PolicyDecision d;
  d.rung_pass_rates = expected;
  d.rung_prior = priors[rung];
  const bool may_skip = prediction.source == PredictionSource::kSupervised || config_.prior_may_drop_or_defer;
  if (h.groups == 0 && expected.back() < config_.drop_hopeless_below && may_skip) {
    d.kind = DecisionKind::kDrop;
    d.reason = absl::StrFormat("no outcome yet; %s: near-impossible even at the top rung (< %g)", why,
                               config_.drop_hopeless_below);
    return d;
  }
  const auto chosen = static_cast<int32_t>(rung);
  if (chosen != h.hint_level) {
    h.hint_level = chosen;
    h.successes_at_level = 0;
    h.level_successes = h.level_trials = 0;
  }
  if (chosen > 0) {
    PolicyDecision g = Guide(chosen, absl::StrFormat("rung %d of %d (%s of the reference) by prediction: %s", chosen,
                                                     rungs(), Percent(config_.hint_ladder[chosen - 1]), why));
    g.rung_pass_rates = std::move(d.rung_pass_rates);
    g.rung_prior = d.rung_prior;
    return g;
  }
  if (h.groups == 0 && config_.enable_defer && prediction.pass_rate > config_.defer_above && may_skip) {
    d.kind = DecisionKind::kDefer;
    d.reason = absl::StrFormat("no outcome yet; %s > %g: trivially easy", DescribePrediction(prediction),
                               config_.defer_above);
    return d;
  }
  d.reason = absl::StrCat("unhinted by prediction: ", why);
  return d;
}

void Policy::WithholdHint(const std::string& prompt_id) {
  auto it = state_.prompts.find(prompt_id);
  if (it == state_.prompts.end() || it->second.last_decision != DecisionKind::kGuide) return;
  it->second.last_decision = DecisionKind::kKeep;
  it->second.last_decision_level = 0;
}

absl::StatusOr<GroupOutcome> Policy::Observe(const std::string& prompt_id, const std::vector<double>& rewards) {
  if (rewards.empty()) return absl::InvalidArgumentError(absl::StrCat("prompt '", prompt_id, "': no rewards"));
  int32_t successes = 0;
  for (size_t i = 0; i < rewards.size(); ++i) {
    if (!(rewards[i] >= 0 && rewards[i] <= 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("prompt '", prompt_id, "': reward ", i, " is ", rewards[i], ", outside [0, 1]"));
    }
    if (rewards[i] >= config_.success_threshold) ++successes;
  }
  const auto trials = static_cast<int32_t>(rewards.size());

  PromptHistory& h = state_.prompts[prompt_id];
  const int32_t level =
      h.last_decision == DecisionKind::kGuide ? h.last_decision_level : 0;  // how this group was rolled out
  ++h.groups;
  h.successes += successes;
  h.trials += trials;
  h.last_group_level = level;
  h.last_group_successes = successes;
  h.last_group_trials = trials;
  state_.rung_successes[level] += successes;
  state_.rung_trials[level] += trials;
  if (h.rung_evidence_trials.empty()) {
    h.rung_evidence_successes.assign(rungs() + 1, 0);
    h.rung_evidence_trials.assign(rungs() + 1, 0);
  }
  h.rung_evidence_successes[level] = config_.expectation_decay * h.rung_evidence_successes[level] + successes;
  h.rung_evidence_trials[level] = config_.expectation_decay * h.rung_evidence_trials[level] + trials;

  if (level == h.hint_level) {
    h.level_successes = config_.expectation_decay * h.level_successes + successes;
    h.level_trials = config_.expectation_decay * h.level_trials + trials;
    const int32_t rung_before = h.hint_level;
    if (successes == 0) {
      h.successes_at_level = 0;
      h.all_pass_groups_in_a_row = 0;
      ++h.zero_groups_in_a_row;
      if (h.has_reference && h.hint_level < rungs()) {
        ++h.hint_level;
      } else if (h.has_reference || h.zero_groups_in_a_row >= config_.no_reference_quarantine_after) {
        h.quarantined_until_epoch = state_.epoch + config_.quarantine_epochs + 1;
      }
    } else {
      h.zero_groups_in_a_row = 0;
      if (level == 0) {
        h.all_pass_groups_in_a_row = successes == trials ? h.all_pass_groups_in_a_row + 1 : 0;
        if (config_.enable_defer && h.all_pass_groups_in_a_row >= config_.defer_after_all_pass_groups) {
          h.deferred_until_epoch = state_.epoch + config_.defer_epochs + 1;
        }
      } else if (++h.successes_at_level >= config_.step_down_after_successes) {
        --h.hint_level;
        h.successes_at_level = 0;
      }
    }
    if (h.hint_level != rung_before) h.level_successes = h.level_trials = 0;  // evidence of another rung
  }
  return GroupOutcome{successes, trials, level, h.last_prediction};
}

Policy::Expectation Policy::ExpectationOf(const std::string& prompt_id, const PolicyDecision& decision,
                                          const Prediction& prediction) const {
  const int32_t rung = decision.kind == DecisionKind::kGuide ? decision.hint_level : 0;
  auto it = state_.prompts.find(prompt_id);
  if (decision.rung_prior) {  // chosen by prediction: the rung's own prior and the prompt's groups there
    Expectation e{*decision.rung_prior, 0, 0};
    if (it != state_.prompts.end() && it->second.rung_evidence_trials.size() > static_cast<size_t>(rung)) {
      e.successes = it->second.rung_evidence_successes[rung];
      e.trials = it->second.rung_evidence_trials[rung];
    }
    return e;
  }
  Expectation e{prediction.pass_rate, 0, 0};
  if (rung > 0 && state_.rung_trials[rung] > 0) {
    e.prior = static_cast<double>(state_.rung_successes[rung]) / static_cast<double>(state_.rung_trials[rung]);
  }
  if (it != state_.prompts.end() && it->second.hint_level == rung) {
    e.successes = it->second.level_successes;
    e.trials = it->second.level_trials;
  }
  return e;
}

double Policy::ExpectedPassRate(const std::string& prompt_id, const PolicyDecision& decision,
                                const Prediction& prediction) const {
  return BeliefOf(prompt_id, decision, prediction).expected;
}

Policy::Belief Policy::BeliefOf(const std::string& prompt_id, const PolicyDecision& decision,
                                const Prediction& prediction, double prior_weight) const {
  const Expectation e = ExpectationOf(prompt_id, decision, prediction);
  const double k = config_.expectation_prior_rollouts;
  const double expected = e.trials == 0 ? e.prior : (e.successes + k * e.prior) / (e.trials + k);
  return Belief{expected, PosteriorFrom(e.prior, k * prior_weight, e.successes, e.trials)};
}

absl::Status Policy::BeginEpoch(int64_t epoch) {
  if (epoch < state_.epoch) {
    return absl::InvalidArgumentError(
        absl::StrCat("epoch ", epoch, " is before the current epoch ", state_.epoch, "; epochs never go backwards"));
  }
  state_.epoch = epoch;
  return absl::OkStatus();
}

}  // namespace sparsegate::plugin

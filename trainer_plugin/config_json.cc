#include "trainer_plugin/config_json.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace sparsegate::plugin {

NLOHMANN_JSON_SERIALIZE_ENUM(PriorDirection, {{PriorDirection::kHigherIsHarder, "higher_is_harder"},
                                              {PriorDirection::kLowerIsHarder, "lower_is_harder"}})
NLOHMANN_JSON_SERIALIZE_ENUM(FailOpenMode, {{FailOpenMode::kKeep, "keep"}, {FailOpenMode::kLastKnown, "last_known"}})

NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PriorConfig, metric_column, direction, length_bins,
                                                min_prompts_per_bin, easiest_pass_rate, hardest_pass_rate,
                                                max_reference_prompts)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PredictorConfig, prior, min_training_groups, min_holdout_groups,
                                                holdout_modulus, l2_metrics, l2_hidden, hidden_probe_dims,
                                                hidden_projection_seed, hidden_excluded_channels, max_observations,
                                                recency_half_life_groups, recalibrate, recalibration_groups,
                                                quality_window_groups, newton_max_iterations, length_only,
                                                hint_fraction_column)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PolicyConfig, hint_ladder, success_threshold,
                                                step_down_after_successes, quarantine_epochs,
                                                no_reference_quarantine_after, drop_below, drop_hopeless_below,
                                                start_rung_below, enable_defer, defer_above,
                                                defer_after_all_pass_groups, defer_epochs, prior_may_drop_or_defer,
                                                fail_open, expectation_prior_rollouts, expectation_decay,
                                                expectation_prior_by_quality, rungs_by_prediction, rung_band_low,
                                                rung_band_high)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(HintCutOptions, min_kept_share, math_overshoot_share)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(HintTemplate, block)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PluginConfig, predictor, policy, hint_cut, hint_template)

namespace {

// Every key of `patch` must exist in `known` (the serialised defaults), objects recursively.
absl::Status CheckKeys(const nlohmann::json& patch, const nlohmann::json& known, const std::string& path) {
  if (!patch.is_object()) return absl::InvalidArgumentError(absl::StrCat(path.empty() ? "config" : path, " is not an object"));
  for (const auto& [key, value] : patch.items()) {
    const std::string where = path.empty() ? key : absl::StrCat(path, ".", key);
    auto it = known.find(key);
    if (it == known.end()) return absl::InvalidArgumentError(absl::StrCat("'", where, "' is not a configuration field"));
    if (it->is_object()) {
      if (absl::Status s = CheckKeys(value, *it, where); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace

nlohmann::json PluginConfigToJson(const PluginConfig& config) { return config; }

absl::StatusOr<PluginConfig> PluginConfigFromJson(const nlohmann::json& json, const PluginConfig& base) {
  nlohmann::json merged = PluginConfigToJson(base);
  if (absl::Status s = CheckKeys(json, merged, ""); !s.ok()) return s;
  merged.merge_patch(json);
  try {
    return merged.get<PluginConfig>();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("config: ", e.what()));
  }
}

}  // namespace sparsegate::plugin

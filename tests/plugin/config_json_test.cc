// The plugin configuration as JSON (config_json.h): every field is written, read back to the same
// value, absent keys keep the base's values, and unknown keys or wrong types are named.
#include "trainer_plugin/config_json.h"

#include <gtest/gtest.h>

namespace sparsegate::plugin {
namespace {

using nlohmann::json;

TEST(ConfigJson, RoundTripsEveryField) {
  PluginConfig config;
  config.policy.hint_ladder = {0.3, 0.6};
  config.policy.start_rung_below = {0.2, 0.05};
  config.policy.fail_open = FailOpenMode::kLastKnown;
  config.predictor.prior.direction = PriorDirection::kLowerIsHarder;
  config.predictor.hidden_excluded_channels = {3, 9};
  config.hint_cut.min_kept_share = 0.5;
  config.hint_template = HintTemplate::Ghpo();
  const json written = PluginConfigToJson(config);
  EXPECT_EQ(written["policy"]["fail_open"], "last_known");
  EXPECT_EQ(written["predictor"]["prior"]["direction"], "lower_is_harder");
  auto read = PluginConfigFromJson(written);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(PluginConfigToJson(*read), written);
}

TEST(ConfigJson, AbsentKeysKeepTheBase) {
  PluginConfig base;
  base.policy.drop_below = 0.07;
  auto read = PluginConfigFromJson(json{{"policy", {{"defer_above", 0.9}}}}, base);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_DOUBLE_EQ(read->policy.drop_below, 0.07);
  EXPECT_DOUBLE_EQ(read->policy.defer_above, 0.9);
  EXPECT_EQ(read->predictor.min_training_groups, PredictorConfig{}.min_training_groups);
}

TEST(ConfigJson, UnknownKeysAndWrongTypesAreNamed) {
  auto unknown = PluginConfigFromJson(json{{"policy", {{"drop_belw", 0.1}}}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("policy.drop_belw"), std::string::npos);
  auto wrong = PluginConfigFromJson(json{{"policy", {{"drop_below", "low"}}}});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sparsegate::plugin

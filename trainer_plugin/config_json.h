// The plugin's configuration as JSON, field for field: {"predictor": {"prior": {...}, ...},
// "policy": {...}, "hint_cut": {...}, "hint_template": {"block": ...}}. The names are the C++
// field names and the enums their snake_case names ("higher_is_harder", "last_known").
//
// One definition of the fields, read by everything that needs them listed: the offline filter's
// resume check (a run continues only under the same configuration) and the Python module's
// keyword arguments. Reading fills absent keys with the defaults; a present key of the wrong type
// is an error. Validation of the values stays with the Validate*Config functions.
#ifndef SPARSEGATE_TRAINER_PLUGIN_CONFIG_JSON_H_
#define SPARSEGATE_TRAINER_PLUGIN_CONFIG_JSON_H_

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "trainer_plugin/plugin.h"

namespace sparsegate::plugin {

nlohmann::json PluginConfigToJson(const PluginConfig& config);

// Starts from `base` and overrides the keys `json` has, at any depth. InvalidArgument names the
// key when a value has the wrong type or the key is not a configuration field.
absl::StatusOr<PluginConfig> PluginConfigFromJson(const nlohmann::json& json, const PluginConfig& base = {});

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_CONFIG_JSON_H_

// Control fields of a dataset (a difficulty level, a source, a topic) as extra predictor inputs:
// columns appended after the features' metrics, so the plugin's predictor learns their weights
// from outcomes like any metric's. A numeric field is one column; a categorical one is one
// indicator column per category ("control/op=add"). The columns must be the same for every row of
// a run (and every shard and resume of it), so Scan reads the whole input once to fix them:
// a field is numeric when every row that has it holds a number, else categorical, categories
// sorted. A row without the field gets 0 in its columns.
#ifndef SPARSEGATE_APPS_OFFLINE_DATASET_CONTROL_INPUTS_H_
#define SPARSEGATE_APPS_OFFLINE_DATASET_CONTROL_INPUTS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "trainer_plugin/features.h"

namespace sparsegate::offline {

class ControlInputs {
 public:
  // Unreadable rows are skipped here (the job rejects them itself). NotFound when the file cannot
  // be opened, InvalidArgument when a field holds something other than numbers, strings or booleans.
  static absl::StatusOr<ControlInputs> Scan(const std::string& input_path, const std::vector<std::string>& fields);

  // `schema` with this object's columns appended.
  plugin::FeatureSchema Extend(const plugin::FeatureSchema& schema) const;
  // Appends `row`'s values to `features->metrics`; features without metrics (fail-open) stay empty.
  void Append(const nlohmann::json& row, plugin::PromptFeatures* features) const;

 private:
  struct Field {
    std::string name;
    bool numeric = true;
    std::vector<std::string> categories;
  };
  std::vector<Field> fields_;
};

}  // namespace sparsegate::offline

#endif  // SPARSEGATE_APPS_OFFLINE_DATASET_CONTROL_INPUTS_H_

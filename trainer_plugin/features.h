// What the difficulty service tells the plugin about one prompt, as plain data: the plugin core
// never sees gRPC or protobuf types. The client flattens each PromptResult into a PromptFeatures
// whose `metrics` follow a FeatureSchema, so the predictor and the checkpoint are self-describing
// and a checkpoint written with one set of columns is never read with another.
//
// A PromptFeatures with no metrics means "the service gave nothing for this prompt" (it failed,
// timed out, or was never asked); the plugin then decides without features (fail-open).
#ifndef SPARSEGATE_TRAINER_PLUGIN_FEATURES_H_
#define SPARSEGATE_TRAINER_PLUGIN_FEATURES_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "difficulty_service/core/features/metric_list.h"

namespace sparsegate::plugin {

// Names the columns of PromptFeatures::metrics, one name per column, all distinct.
struct FeatureSchema {
  std::vector<std::string> columns;

  // One column per (feature set, metric): "<label>/<metric>", labels outer, metrics in
  // MetricNames() order (difficulty_service/core/features/metric_list.h). Labels name a (layer, pooling) pair, e.g. "layer28/last_token";
  // list first the one the unsupervised prior should read (see PriorConfig::metric_column).
  static FeatureSchema ForFeatureSets(const std::vector<std::string>& feature_set_labels);
  // The columns of a request for `layers` x `poolings` as given (layers outer): labels
  // "layer<index>/<pooling>", e.g. "layer-1/last_token". Every feature source names them so.
  static FeatureSchema ForLayersAndPoolings(const std::vector<int>& layers, const std::vector<std::string>& poolings);

  std::optional<size_t> IndexOf(std::string_view column) const;
  size_t size() const { return columns.size(); }
  bool operator==(const FeatureSchema& other) const { return columns == other.columns; }
  bool operator!=(const FeatureSchema& other) const { return !(*this == other); }
};

// Ok when the schema has at least one column and no empty or repeated names.
absl::Status ValidateSchema(const FeatureSchema& schema);

// What the service returned for one prompt.
struct PromptFeatures {
  std::vector<float> metrics;  // one value per schema column; empty = no features (fail-open)
  int32_t token_count = 0;     // tokens that went through the model
  bool truncated = false;      // the service kept only the last token_count tokens
  int32_t original_token_count = 0;  // the prompt's tokens before truncation (0: not reported)
  std::vector<float> hidden;   // the pooled hidden vector, optional (empty when not requested)
  std::string model_digest;    // of the model that computed them ("sha256:..."), when known

  bool empty() const { return metrics.empty(); }
};

// Ok when `features` fits `schema`: one finite value per column, token_count >= 1, finite hidden
// values. The message names the first offending column or value.
absl::Status ValidateFeatures(const FeatureSchema& schema, const PromptFeatures& features);

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_FEATURES_H_

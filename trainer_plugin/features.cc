#include "trainer_plugin/features.h"

#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"

namespace sparsegate::plugin {

FeatureSchema FeatureSchema::ForFeatureSets(const std::vector<std::string>& feature_set_labels) {
  FeatureSchema schema;
  for (const std::string& label : feature_set_labels) {
    for (const char* metric : MetricNames()) schema.columns.push_back(label + "/" + metric);
  }
  return schema;
}

FeatureSchema FeatureSchema::ForLayersAndPoolings(const std::vector<int>& layers,
                                                 const std::vector<std::string>& poolings) {
  std::vector<std::string> labels;
  for (int layer : layers) {
    for (const std::string& pooling : poolings) labels.push_back("layer" + std::to_string(layer) + "/" + pooling);
  }
  return ForFeatureSets(labels);
}

std::optional<size_t> FeatureSchema::IndexOf(std::string_view column) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == column) return i;
  }
  return std::nullopt;
}

absl::Status ValidateSchema(const FeatureSchema& schema) {
  if (schema.columns.empty()) return absl::InvalidArgumentError("feature schema has no columns");
  std::set<std::string_view> seen;
  for (size_t i = 0; i < schema.columns.size(); ++i) {
    if (schema.columns[i].empty()) {
      return absl::InvalidArgumentError(absl::StrCat("feature schema column ", i, " has an empty name"));
    }
    if (!seen.insert(schema.columns[i]).second) {
      return absl::InvalidArgumentError(absl::StrCat("feature schema names column '", schema.columns[i], "' twice"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateFeatures(const FeatureSchema& schema, const PromptFeatures& features) {
  if (features.metrics.size() != schema.size()) {
    return absl::InvalidArgumentError(absl::StrCat("features have ", features.metrics.size(),
                                                   " metric values but the schema has ", schema.size(), " columns"));
  }
  for (size_t i = 0; i < features.metrics.size(); ++i) {
    if (!std::isfinite(features.metrics[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric '", schema.columns[i], "' is not finite (", features.metrics[i], ")"));
    }
  }
  if (features.token_count < 1) {
    return absl::InvalidArgumentError(absl::StrCat("token_count must be at least 1, got ", features.token_count));
  }
  for (size_t i = 0; i < features.hidden.size(); ++i) {
    if (!std::isfinite(features.hidden[i])) {
      return absl::InvalidArgumentError(absl::StrCat("hidden[", i, "] is not finite (", features.hidden[i], ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace sparsegate::plugin

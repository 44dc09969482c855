// Where an offline job gets its features: a model in this process, or difficulty-service replicas.
//
// Score() returns one result per prompt, in order: the features, or the error that prompt alone
// caused (too long, empty, ...), which the job reports as a rejected row. An error for the whole
// call means the source itself failed (no replica answers): the job stops there, and can resume.
// Both sources produce features in the same schema for the same settings, so a job may be
// resumed, or its shards run, against either.
#ifndef SPARSEGATE_APPS_OFFLINE_SOURCES_FEATURE_SOURCE_H_
#define SPARSEGATE_APPS_OFFLINE_SOURCES_FEATURE_SOURCE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer_plugin/client/difficulty_client.h"
#include "trainer_plugin/features.h"

namespace sparsegate::offline {

class FeatureSource {
 public:
  virtual ~FeatureSource() = default;
  virtual const plugin::FeatureSchema& schema() const = 0;
  // The model directory, or the server addresses, for logs and the report.
  virtual std::string Describe() const = 0;
  virtual absl::StatusOr<std::vector<absl::StatusOr<plugin::PromptFeatures>>> Score(const std::vector<std::string>& prompts) = 0;
};

// Replicas behind a plugin::DifficultyClient (round-robin over its target). The client fails open per
// prompt; this source does not: a prompt without features is scored again alone, and either gets
// its own error (the service said INVALID_ARGUMENT) or fails the call (the service is unreachable).
// `target` is the client's target, for Describe().
std::unique_ptr<FeatureSource> MakeRemoteFeatureSource(std::unique_ptr<plugin::DifficultyClient> client, std::string target);

}  // namespace sparsegate::offline

#endif  // SPARSEGATE_APPS_OFFLINE_SOURCES_FEATURE_SOURCE_H_

// The offline filter's FeatureSource for a model loaded in this process: prompts go through the
// InProcessScorer, and each prompt's feature sets are flattened into the trainer plugin's columns
// exactly as the gRPC client flattens a service answer ("layer<index>/<pooling>/<metric>", with the
// layer indices as requested), so in-process and remote runs are interchangeable.
#ifndef SPARSEGATE_APPS_OFFLINE_SOURCES_IN_PROCESS_SOURCE_H_
#define SPARSEGATE_APPS_OFFLINE_SOURCES_IN_PROCESS_SOURCE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "apps/offline/sources/feature_source.h"
#include "difficulty_service/core/engine/scoring_engine.h"

namespace sparsegate::offline {

struct InProcessSourceOptions {
  std::string model_dir;
  std::vector<int> layers{-1};
  std::vector<std::string> poolings{"last_token"};
  bool truncate_left = false;  // a prompt over the token limit is that prompt's error
  int64_t token_budget = 8192;
  // Fill PromptFeatures::hidden with the pooled vector of the first (layer, pooling), as the gRPC
  // client does with return_hidden.
  bool return_hidden = false;
  c10::Device device = c10::kCPU;
  std::optional<c10::ScalarType> dtype;  // nullopt: auto (difficulty_service/core/model/device.h)
  CpuMatmul cpu_matmul = CpuMatmul::kAuto;
};

absl::StatusOr<std::unique_ptr<offline::FeatureSource>> MakeInProcessSource(const InProcessSourceOptions& options);

}  // namespace sparsegate::offline

#endif  // SPARSEGATE_APPS_OFFLINE_SOURCES_IN_PROCESS_SOURCE_H_

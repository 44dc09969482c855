#include <grpcpp/support/status_code_enum.h>

#include "absl/strings/str_cat.h"
#include "apps/offline/sources/feature_source.h"

namespace sparsegate::offline {

using plugin::PromptFeatures;
using plugin::FeatureSchema;
using plugin::DifficultyClient;
using plugin::ClientStats;
using plugin::ScoreInput;
namespace {

class RemoteFeatureSource : public FeatureSource {
 public:
  RemoteFeatureSource(std::unique_ptr<DifficultyClient> client, std::string target)
      : client_(std::move(client)), target_(std::move(target)) {}

  const FeatureSchema& schema() const override { return client_->schema(); }
  std::string Describe() const override { return target_; }

  absl::StatusOr<std::vector<absl::StatusOr<PromptFeatures>>> Score(const std::vector<std::string>& prompts) override {
    std::vector<ScoreInput> inputs(prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) inputs[i].text = prompts[i];
    std::vector<PromptFeatures> scored = client_->Score(inputs);
    std::vector<absl::StatusOr<PromptFeatures>> results;
    results.reserve(prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) {
      if (!scored[i].empty()) {
        results.push_back(std::move(scored[i]));
        continue;
      }
      // One bad prompt fails its whole call; alone, it shows whether it is the culprit.
      std::vector<PromptFeatures> alone = client_->Score({inputs[i]});
      if (!alone[0].empty()) {
        results.push_back(std::move(alone[0]));
        continue;
      }
      const ClientStats stats = client_->stats();
      if (stats.last_error_code != grpc::StatusCode::INVALID_ARGUMENT)
        return absl::UnavailableError(absl::StrCat("the difficulty service failed: ", stats.last_error));
      results.push_back(absl::InvalidArgumentError(stats.last_error));
    }
    return results;
  }

 private:
  std::unique_ptr<DifficultyClient> client_;
  std::string target_;
};

}  // namespace

std::unique_ptr<FeatureSource> MakeRemoteFeatureSource(std::unique_ptr<DifficultyClient> client, std::string target) {
  return std::make_unique<RemoteFeatureSource>(std::move(client), std::move(target));
}

}  // namespace sparsegate::offline

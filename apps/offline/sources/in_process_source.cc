#include "apps/offline/sources/in_process_source.h"

#include "absl/strings/str_cat.h"
#include "apps/offline/sources/in_process_scorer.h"

namespace sparsegate::offline {
namespace {

class InProcessSource : public offline::FeatureSource {
 public:
  InProcessSource(std::unique_ptr<ScoringEngine> engine, std::unique_ptr<InProcessScorer> scorer,
                  const InProcessSourceOptions& options, plugin::FeatureSchema schema)
      : engine_(std::move(engine)),
        scorer_(std::move(scorer)),
        model_dir_(options.model_dir),
        schema_(std::move(schema)) {}

  const plugin::FeatureSchema& schema() const override { return schema_; }
  std::string Describe() const override { return model_dir_; }

  absl::StatusOr<std::vector<absl::StatusOr<plugin::PromptFeatures>>> Score(
      const std::vector<std::string>& prompts) override {
    std::vector<PromptInput> inputs(prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) inputs[i].text = prompts[i];
    std::vector<absl::StatusOr<ScoredPrompt>> scored = scorer_->Score(std::move(inputs));
    std::vector<absl::StatusOr<plugin::PromptFeatures>> results;
    results.reserve(scored.size());
    for (auto& s : scored) {
      if (!s.ok()) {
        results.push_back(s.status());
        continue;
      }
      plugin::PromptFeatures flat;
      flat.token_count = static_cast<int32_t>(s->token_count);
      flat.truncated = s->truncated;
      flat.original_token_count = static_cast<int32_t>(s->original_token_count);
      for (const FeatureSet& set : s->features) flat.metrics.insert(flat.metrics.end(), set.metrics.begin(), set.metrics.end());
      if (!s->features.empty()) flat.hidden = std::move(s->features[0].hidden);
      results.push_back(std::move(flat));
    }
    return results;
  }

 private:
  std::unique_ptr<ScoringEngine> engine_;
  std::unique_ptr<InProcessScorer> scorer_;  // declared after the engine it scores on: destroyed first
  std::string model_dir_;
  plugin::FeatureSchema schema_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<offline::FeatureSource>> MakeInProcessSource(const InProcessSourceOptions& options) {
  EngineOptions engine_options;
  engine_options.device = options.device;
  engine_options.dtype = options.dtype;
  engine_options.cpu_matmul = options.cpu_matmul;
  auto engine = ScoringEngine::Load(options.model_dir, engine_options);
  if (!engine.ok()) return engine.status();
  FeatureRequest request;
  auto layers = (*engine)->ResolveLayers(options.layers);
  if (!layers.ok()) return layers.status();
  request.layers = *layers;
  request.return_hidden = options.return_hidden;
  request.poolings.clear();
  for (const std::string& name : options.poolings) {
    std::optional<Pooling> pooling = PoolingFromName(name);
    if (!pooling) return absl::InvalidArgumentError(absl::StrCat("unknown pooling '", name, "' (last_token, mean)"));
    request.poolings.push_back(*pooling);
  }
  if (request.layers.size() != options.layers.size())
    return absl::InvalidArgumentError("two requested layers are the same hidden state");
  auto schema = plugin::FeatureSchema::ForLayersAndPoolings(options.layers, options.poolings);
  if (absl::Status valid = plugin::ValidateSchema(schema); !valid.ok()) return valid;
  auto scorer = InProcessScorer::Create(**engine, std::move(request), options.truncate_left, options.token_budget);
  if (!scorer.ok()) return scorer.status();
  return std::unique_ptr<offline::FeatureSource>(
      new InProcessSource(*std::move(engine), *std::move(scorer), options, std::move(schema)));
}

}  // namespace sparsegate::offline

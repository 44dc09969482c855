// Turns a batch's hidden states into each prompt's feature sets: pool every
// requested layer (last prompt token, or mean over prompt tokens), drop the
// excluded channels, and compute the sparsity metrics.
//
// Outlier channels ("massive activations") are found once, from a
// reference set of prompts: per hidden-state index, a channel whose median
// magnitude over the reference vectors exceeds `ratio` times the median of
// all channels' medians. A handful of such channels otherwise decide every
// metric (docs/api.md, The features).
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_FEATURES_FEATURE_EXTRACTOR_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_FEATURES_FEATURE_EXTRACTOR_H_

#include <ATen/core/Tensor.h>

#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "difficulty_service/core/features/sparsity_metrics.h"

namespace sparsegate {

enum class Pooling { kLastToken, kMean };
const char* PoolingName(Pooling pooling);  // "last_token", "mean"
// The inverse of PoolingName; nullopt for any other name.
std::optional<Pooling> PoolingFromName(std::string_view name);

// What one prompt asks for. Layers are resolved indices in [0, num_layers].
struct FeatureRequest {
  std::vector<int> layers;
  std::vector<Pooling> poolings{Pooling::kLastToken};
  bool return_hidden = false;
  std::vector<int64_t> exclude_channels;  // sorted, unique, each in [0, d)
  bool exclude_detected_outliers = false;
};

struct FeatureSet {
  int layer;
  Pooling pooling;
  MetricValues metrics;
  std::vector<float> hidden;  // the pooled vector, when asked for
};

// Hidden-state index -> outlier channels at that index.
using OutlierChannels = std::map<int, std::vector<int64_t>>;

// pooled: index -> [N, d] reference vectors. Channels above ratio x the
// median channel magnitude are listed, in ascending order.
OutlierChannels DetectOutlierChannels(const std::map<int, at::Tensor>& pooled, double ratio);

// states: [N, d] in any floating dtype, B prompts packed back to back (DecoderModel::
// PackedHiddenStates); lengths: [B] int64 on the same device, each >= 1, summing to N. Returns
// [B, d] float32: each prompt's last token, or the mean of its tokens accumulated in float32.
at::Tensor PoolPackedStates(const at::Tensor& states, const at::Tensor& lengths, Pooling pooling);

class FeatureExtractor {
 public:
  explicit FeatureExtractor(OutlierChannels detected = {}) : detected_(std::move(detected)) {}

  const OutlierChannels& detected_outliers() const { return detected_; }

  // hidden: index -> [N, d], the B rows packed back to back (lengths[b] tokens each), holding every
  // index any request names; requests[b] belongs to row b. Returns one vector of FeatureSets per row,
  // ordered by the row's layers, then poolings.
  std::vector<std::vector<FeatureSet>> Extract(const std::map<int, at::Tensor>& hidden,
                                               const std::vector<int64_t>& lengths,
                                               const std::vector<const FeatureRequest*>& requests) const;

 private:
  std::vector<int64_t> ExcludedChannels(const FeatureRequest& request, int layer) const;

  OutlierChannels detected_;
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_FEATURES_FEATURE_EXTRACTOR_H_

#include "difficulty_service/core/features/feature_extractor.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <set>

namespace sparsegate {

const char* PoolingName(Pooling pooling) { return pooling == Pooling::kMean ? "mean" : "last_token"; }

std::optional<Pooling> PoolingFromName(std::string_view name) {
  if (name == "last_token") return Pooling::kLastToken;
  if (name == "mean") return Pooling::kMean;
  return std::nullopt;
}

at::Tensor PoolPackedStates(const at::Tensor& states, const at::Tensor& lengths, Pooling pooling) {
  if (pooling == Pooling::kLastToken) return states.index_select(0, lengths.cumsum(0) - 1).to(at::kFloat);
  at::Tensor row_of_token = at::repeat_interleave(lengths);  // [N]: 0 0 0 1 1 2 ...
  at::Tensor summed = at::zeros({lengths.size(0), states.size(1)}, states.options().dtype(at::kFloat));
  summed.index_add_(0, row_of_token, states.to(at::kFloat));
  return summed / lengths.unsqueeze(1).to(at::kFloat);
}

OutlierChannels DetectOutlierChannels(const std::map<int, at::Tensor>& pooled, double ratio) {
  c10::InferenceMode guard;
  OutlierChannels out;
  for (const auto& [layer, vectors] : pooled) {
    at::Tensor channel_median = std::get<0>(vectors.abs().median(0));  // [d]
    double typical = channel_median.median().item<double>();
    at::Tensor idx = (channel_median > ratio * typical).nonzero().flatten().to(at::kLong).contiguous();
    out[layer] = std::vector<int64_t>(idx.data_ptr<int64_t>(), idx.data_ptr<int64_t>() + idx.numel());
  }
  return out;
}

std::vector<int64_t> FeatureExtractor::ExcludedChannels(const FeatureRequest& request, int layer) const {
  std::set<int64_t> channels(request.exclude_channels.begin(), request.exclude_channels.end());
  if (request.exclude_detected_outliers) {
    auto it = detected_.find(layer);
    if (it != detected_.end()) channels.insert(it->second.begin(), it->second.end());
  }
  return std::vector<int64_t>(channels.begin(), channels.end());
}

std::vector<std::vector<FeatureSet>> FeatureExtractor::Extract(
    const std::map<int, at::Tensor>& hidden, const std::vector<int64_t>& lengths,
    const std::vector<const FeatureRequest*>& requests) const {
  c10::InferenceMode guard;
  const int64_t B = static_cast<int64_t>(requests.size());
  // Pooling and metrics run where the hidden states are; only the metrics (and any asked-for pooled
  // vectors) come back to the CPU.
  const at::Device device = hidden.empty() ? at::Device(at::kCPU) : hidden.begin()->second.device();
  auto on_device = [&](const std::vector<int64_t>& values) { return at::tensor(values, at::kLong).to(device); };
  at::Tensor length_tensor = on_device(lengths);
  std::vector<std::vector<FeatureSet>> results(B);

  // Pool each (layer, pooling) once for the whole batch, then compute the metrics of every pooled
  // vector that shares an exclusion set, whatever its layer and pooling, in one call: the metric
  // kernels are many small operations, and one call per set costs as much as the forward pass of
  // a short prompt on the CPU (and a launch per operation on a GPU).
  using Key = std::pair<int, Pooling>;
  std::map<Key, at::Tensor> pooled;
  for (const FeatureRequest* request : requests)
    for (int layer : request->layers)
      for (Pooling pooling : request->poolings)
        if (!pooled.count({layer, pooling}))
          pooled[{layer, pooling}] = PoolPackedStates(hidden.at(layer), length_tensor, pooling).contiguous();

  std::map<std::vector<int64_t>, std::map<Key, std::vector<int64_t>>> rows_by_exclusion;
  for (int64_t b = 0; b < B; ++b) {
    const FeatureRequest& r = *requests[b];
    for (int layer : r.layers)
      for (Pooling pooling : r.poolings) {
        std::vector<int64_t>& rows = rows_by_exclusion[ExcludedChannels(r, layer)][{layer, pooling}];
        if (rows.empty() || rows.back() != b) rows.push_back(b);  // a pooling named twice counts once
      }
  }
  for (const auto& [excluded, groups] : rows_by_exclusion) {
    std::vector<at::Tensor> parts;
    for (const auto& [key, rows] : groups) parts.push_back(pooled.at(key).index_select(0, on_device(rows)));
    at::Tensor selected = parts.size() == 1 ? parts[0] : at::cat(parts, 0);
    if (!excluded.empty()) {
      at::Tensor keep = at::ones({selected.size(1)}, at::TensorOptions().dtype(at::kBool).device(device));
      keep.index_fill_(0, on_device(excluded), false);
      selected = selected.index_select(1, keep.nonzero().flatten());
    }
    at::Tensor metrics = ComputeSparsityMetrics(selected).to(at::kCPU).contiguous();
    int64_t next = 0;
    for (const auto& [key, rows] : groups) {
      const at::Tensor& vectors = pooled.at(key);
      for (int64_t row : rows) {
        FeatureSet set{key.first, key.second, {}, {}};
        std::copy_n(metrics[next++].data_ptr<float>(), kNumMetrics, set.metrics.begin());
        if (requests[row]->return_hidden) {
          at::Tensor v = vectors[row].to(at::kCPU, at::kFloat).contiguous();
          set.hidden.assign(v.data_ptr<float>(), v.data_ptr<float>() + v.numel());
        }
        results[row].push_back(std::move(set));
      }
    }
  }
  // Order each row's sets as the request listed them: layers, then poolings.
  for (int64_t b = 0; b < B; ++b) {
    const FeatureRequest& r = *requests[b];
    auto rank = [&](const FeatureSet& s) {
      auto li = std::find(r.layers.begin(), r.layers.end(), s.layer) - r.layers.begin();
      auto pi = std::find(r.poolings.begin(), r.poolings.end(), s.pooling) - r.poolings.begin();
      return li * 16 + pi;
    };
    std::sort(results[b].begin(), results[b].end(),
              [&](const FeatureSet& x, const FeatureSet& y) { return rank(x) < rank(y); });
  }
  return results;
}

}  // namespace sparsegate

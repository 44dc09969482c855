#include "difficulty_service/features/feature_extractor.h"

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

at::Tensor PoolHiddenStates(const at::Tensor& hidden, const at::Tensor& lengths, Pooling pooling) {
  const int64_t B = hidden.size(0), T = hidden.size(1);
  if (pooling == Pooling::kLastToken) {
    at::Tensor last = (lengths - 1).view({B, 1, 1}).expand({B, 1, hidden.size(2)});
    return hidden.gather(1, last).squeeze(1).to(at::kFloat);
  }
  at::Tensor valid = at::arange(T, lengths.options()).unsqueeze(0) < lengths.unsqueeze(1);  // [B, T]
  // The mask is exact in any dtype; the sum accumulates in float32.
  at::Tensor summed = (hidden * valid.unsqueeze(-1).to(hidden.scalar_type())).sum(1, /*keepdim=*/false, at::kFloat);
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

  // Pool each (layer, pooling) once for the whole batch, then compute the
  // metrics for all rows that share an exclusion set in one call.
  std::map<std::pair<int, Pooling>, at::Tensor> pooled;
  for (const FeatureRequest* request : requests)
    for (int layer : request->layers)
      for (Pooling pooling : request->poolings)
        if (!pooled.count({layer, pooling}))
          pooled[{layer, pooling}] = PoolHiddenStates(hidden.at(layer), length_tensor, pooling).contiguous();

  for (const auto& [key, vectors] : pooled) {
    const auto [layer, pooling] = key;
    std::map<std::vector<int64_t>, std::vector<int64_t>> rows_by_exclusion;
    for (int64_t b = 0; b < B; ++b) {
      const FeatureRequest& r = *requests[b];
      bool wants = std::count(r.layers.begin(), r.layers.end(), layer) &&
                   std::count(r.poolings.begin(), r.poolings.end(), pooling);
      if (wants) rows_by_exclusion[ExcludedChannels(r, layer)].push_back(b);
    }
    for (const auto& [excluded, rows] : rows_by_exclusion) {
      at::Tensor selected = vectors.index_select(0, on_device(rows));
      if (!excluded.empty()) {
        at::Tensor keep = at::ones({vectors.size(1)}, at::TensorOptions().dtype(at::kBool).device(device));
        keep.index_fill_(0, on_device(excluded), false);
        selected = selected.index_select(1, keep.nonzero().flatten());
      }
      at::Tensor metrics = ComputeSparsityMetrics(selected).to(at::kCPU).contiguous();
      for (size_t i = 0; i < rows.size(); ++i) {
        FeatureSet set{layer, pooling, {}, {}};
        std::copy_n(metrics[i].data_ptr<float>(), kNumMetrics, set.metrics.begin());
        if (requests[rows[i]]->return_hidden) {
          at::Tensor v = vectors[rows[i]].to(at::kCPU, at::kFloat).contiguous();
          set.hidden.assign(v.data_ptr<float>(), v.data_ptr<float>() + v.numel());
        }
        results[rows[i]].push_back(std::move(set));
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

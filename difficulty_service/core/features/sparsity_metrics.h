// The activation-sparsity metrics (docs/api.md, The features), computed for every row of a
// [N, d] matrix of pooled hidden states at once.
//
// With a = |h|: heavy-tail fraction (share of a_i > mean(a) + std(a), the
// population std); top-k L2 energy and L1 mass at k = max(1, floor(p d)) for
// p = 1%, 5%, 10%; Hoyer; effective rank of p = a / sum(a) and of
// p = h^2 / sum(h^2) (exp of the entropy, divided by d); Gini of a; excess
// kurtosis of a; participation ratio (sum h^2)^2 / sum h^4 / d; and
// max(a) / rms(h). Computed in float64, returned as float32.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_FEATURES_SPARSITY_METRICS_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_FEATURES_SPARSITY_METRICS_H_

#include <ATen/core/Tensor.h>

#include <array>

#include "difficulty_service/core/features/metric_list.h"

namespace sparsegate {

using MetricValues = std::array<float, kNumMetrics>;

// h: [N, d] with d >= 1. Returns [N, kNumMetrics] float32, columns in metric_list.h order.
at::Tensor ComputeSparsityMetrics(const at::Tensor& h);

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_FEATURES_SPARSITY_METRICS_H_

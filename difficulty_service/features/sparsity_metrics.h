// The activation-sparsity metrics of DESIGN.md, computed for every row of a
// [N, d] matrix of pooled hidden states at once.
//
// With a = |h|: heavy-tail fraction (share of a_i > mean(a) + std(a), the
// population std); top-k L2 energy and L1 mass at k = max(1, floor(p d)) for
// p = 1%, 5%, 10%; Hoyer; effective rank of p = a / sum(a) and of
// p = h^2 / sum(h^2) (exp of the entropy, divided by d); Gini of a; excess
// kurtosis of a; participation ratio (sum h^2)^2 / sum h^4 / d; and
// max(a) / rms(h). Computed in float64, returned as float32.
#pragma once

#include <ATen/core/Tensor.h>

#include <array>

namespace sparsegate {

enum class Metric {
  kHeavyTailFraction,
  kTop1Energy,
  kTop5Energy,
  kTop10Energy,
  kTop1Mass,
  kTop5Mass,
  kTop10Mass,
  kHoyer,
  kEffectiveRankL1,
  kEffectiveRankL2,
  kGini,
  kKurtosis,
  kParticipationRatio,
  kMaxAbsOverRms,
};
constexpr int kNumMetrics = 14;
using MetricValues = std::array<float, kNumMetrics>;

// snake_case names, in enum order, as used in JSON output and the proto.
const std::array<const char*, kNumMetrics>& MetricNames();

// h: [N, d] with d >= 1. Returns [N, kNumMetrics] float32.
at::Tensor ComputeSparsityMetrics(const at::Tensor& h);

}  // namespace sparsegate

// The one list of the sparsity metrics. Everything that names a metric reads it from here: the
// engine's Metric enum and MetricNames(), the proto mapping (by field name, checked at start-up),
// the plugin's feature schema, the Python module, `sparsegate metrics` and through it the scripts.
// The order is the order of the engine's output columns and of the proto's field numbers.
//
// Adding a metric: one line here, its formula in sparsity_metrics.cc, and a field of the same
// name in proto/sparsegate/v1/difficulty.proto (tests/features/metric_list_test.cc checks they agree).
//
// Header-only and free of libtorch, so the trainer plugin can read it without linking the engine.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_FEATURES_METRIC_LIST_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_FEATURES_METRIC_LIST_H_

#include <array>

// X(enumerator, snake_case name)
#define SPARSEGATE_SPARSITY_METRICS(X)            \
  X(kHeavyTailFraction, heavy_tail_fraction)      \
  X(kTop1Energy, top1_energy)                     \
  X(kTop5Energy, top5_energy)                     \
  X(kTop10Energy, top10_energy)                   \
  X(kTop1Mass, top1_mass)                         \
  X(kTop5Mass, top5_mass)                         \
  X(kTop10Mass, top10_mass)                       \
  X(kHoyer, hoyer)                                \
  X(kEffectiveRankL1, effective_rank_l1)          \
  X(kEffectiveRankL2, effective_rank_l2)          \
  X(kGini, gini)                                  \
  X(kKurtosis, kurtosis)                          \
  X(kParticipationRatio, participation_ratio)     \
  X(kMaxAbsOverRms, max_abs_over_rms)

namespace sparsegate {

enum class Metric {
#define SPARSEGATE_METRIC_ENUMERATOR(enumerator, name) enumerator,
  SPARSEGATE_SPARSITY_METRICS(SPARSEGATE_METRIC_ENUMERATOR)
#undef SPARSEGATE_METRIC_ENUMERATOR
};

inline constexpr std::array<const char*, 0
#define SPARSEGATE_METRIC_COUNT(enumerator, name) +1
    SPARSEGATE_SPARSITY_METRICS(SPARSEGATE_METRIC_COUNT)
#undef SPARSEGATE_METRIC_COUNT
    > kMetricNames = {
#define SPARSEGATE_METRIC_NAME(enumerator, name) #name,
    SPARSEGATE_SPARSITY_METRICS(SPARSEGATE_METRIC_NAME)
#undef SPARSEGATE_METRIC_NAME
};

inline constexpr int kNumMetrics = static_cast<int>(kMetricNames.size());

// The snake_case names in order, as JSON output, the proto and the plugin's columns spell them.
inline const std::array<const char*, kNumMetrics>& MetricNames() { return kMetricNames; }

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_FEATURES_METRIC_LIST_H_

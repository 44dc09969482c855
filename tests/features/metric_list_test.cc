// The one metric list (metric_list.h) agrees with everything that names metrics: the proto's
// SparsityMetrics fields (names, order, numbering, type), the engine's output columns, and the
// plugin's feature schema.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>

#include "difficulty_service/core/features/metric_list.h"
#include "difficulty_service/core/features/sparsity_metrics.h"
#include "difficulty_service/service/server/request_translation.h"
#include "sparsegate/v1/difficulty.pb.h"
#include "trainer_plugin/features.h"

namespace sparsegate {
namespace {

TEST(MetricList, ProtoFieldsAreTheListInOrder) {
  const auto* descriptor = v1::SparsityMetrics::descriptor();
  ASSERT_EQ(descriptor->field_count(), kNumMetrics);
  for (int i = 0; i < kNumMetrics; ++i) {
    const auto* field = descriptor->field(i);
    EXPECT_EQ(field->name(), MetricNames()[i]);
    EXPECT_EQ(field->number(), i + 1) << field->name();
    EXPECT_EQ(field->cpp_type(), google::protobuf::FieldDescriptor::CPPTYPE_FLOAT) << field->name();
  }
  EXPECT_TRUE(CheckMetricFields().ok());
}

TEST(MetricList, EngineComputesOneColumnPerMetric) {
  at::Tensor h = at::randn({3, 64}, at::kFloat);
  at::Tensor metrics = ComputeSparsityMetrics(h);
  EXPECT_EQ(metrics.size(0), 3);
  EXPECT_EQ(metrics.size(1), kNumMetrics);
}

TEST(MetricList, EnumCountsTheNames) {
  EXPECT_EQ(static_cast<int>(Metric::kMaxAbsOverRms), kNumMetrics - 1);
  EXPECT_STREQ(MetricNames()[static_cast<int>(Metric::kTop10Energy)], "top10_energy");
}

TEST(MetricList, PluginSchemaNamesEveryMetricPerFeatureSet) {
  auto schema = plugin::FeatureSchema::ForFeatureSets({"a", "b"});
  ASSERT_EQ(schema.size(), 2u * kNumMetrics);
  for (int i = 0; i < kNumMetrics; ++i) {
    EXPECT_EQ(schema.columns[i], std::string("a/") + MetricNames()[i]);
    EXPECT_EQ(schema.columns[kNumMetrics + i], std::string("b/") + MetricNames()[i]);
  }
}

}  // namespace
}  // namespace sparsegate

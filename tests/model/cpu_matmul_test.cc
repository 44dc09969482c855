// A projection's products go where its layouts and the rows say (cpu_matmul.h), and the probe's
// choice follows from its own timings.
#include "difficulty_service/core/model/cpu_matmul.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

namespace sparsegate {
namespace {

// The oneDNN layout deliberately holds another matrix, so that each output says which path ran.
TEST(CpuMatmul, ProductsGoToOneDnnFromTheChosenRows) {
  if (!at::hasMKLDNN()) GTEST_SKIP() << "this libtorch has no oneDNN";
  c10::InferenceMode guard;
  at::manual_seed(1);
  const at::Tensor dense = at::randn({24, 32}), other = at::randn({24, 32}), bias = at::randn({24});
  Projection p{dense, bias, other.to_mkldnn()};
  for (int64_t rows : {1, 15, 16, 17, 64}) {
    SCOPED_TRACE(rows);
    const at::Tensor x = at::randn({2, rows, 32});  // rows counts every leading dimension: 2 x rows
    const at::Tensor by_blas = at::linear(x, dense, bias), by_onednn = at::linear(x, other, bias);
    const at::Tensor out = Project(x, p, /*onednn_from_rows=*/32);
    ASSERT_EQ(out.sizes(), by_blas.sizes());
    EXPECT_TRUE(at::allclose(out, 2 * rows >= 32 ? by_onednn : by_blas, 1e-5, 1e-5));
    EXPECT_TRUE(at::allclose(Project(x, p, /*onednn_from_rows=*/0), by_blas, 1e-5, 1e-5)) << "0 means never";
  }
  // Without the dense weight (ModelLoadOptions::cpu_matmul = kOneDnn keeps only oneDNN's), every
  // product goes to oneDNN; without oneDNN's layout, none does.
  const at::Tensor x = at::randn({3, 32});
  EXPECT_TRUE(at::allclose(Project(x, Projection{at::Tensor(), bias, other.to_mkldnn()}, 0), at::linear(x, other, bias),
                           1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(Project(x, Projection{dense, at::Tensor(), at::Tensor()}, 1), at::linear(x, dense), 1e-5,
                           1e-5));
}

// A layer's products shaped as the 24M bench model's (hidden 512, intermediate 1,536, 8 heads of
// 64, 4 key-value heads): whatever this machine measures, the probe times from 1,024 rows down
// until oneDNN is not faster by the margin, chooses the fewest rows of that run of wins, and the
// report names the choice.
TEST(CpuMatmul, TheProbeChoosesFromItsOwnTimings) {
  if (!at::hasMKLDNN()) GTEST_SKIP() << "this libtorch has no oneDNN";
  c10::InferenceMode guard;
  std::vector<Projection> layer;
  for (auto [out, in] : std::vector<std::pair<int64_t, int64_t>>{
           {512, 512}, {256, 512}, {256, 512}, {512, 512}, {1536, 512}, {1536, 512}, {512, 1536}}) {
    at::Tensor w = at::randn({out, in}) * 0.05;
    layer.push_back(Projection{w, at::Tensor(), w.to_mkldnn()});
  }
  std::vector<const Projection*> projections;
  for (const Projection& p : layer) projections.push_back(&p);
  const OneDnnProbe probe = ProbeOneDnn(projections, /*threads=*/2);
  const std::vector<int64_t> all{16, 64, 256, 1024};
  ASSERT_GE(probe.rows.size(), 1u);
  ASSERT_LE(probe.rows.size(), 4u);
  // The counts timed are the largest ones, ascending.
  EXPECT_EQ(probe.rows, std::vector<int64_t>(all.end() - static_cast<int64_t>(probe.rows.size()), all.end()));
  ASSERT_EQ(probe.blas_seconds.size(), probe.rows.size());
  ASSERT_EQ(probe.onednn_seconds.size(), probe.rows.size());
  auto wins = [&](size_t i) { return probe.onednn_seconds[i] <= (1 - kOneDnnMargin) * probe.blas_seconds[i]; };
  for (size_t i = 0; i < probe.rows.size(); ++i) {
    EXPECT_GT(probe.blas_seconds[i], 0);
    EXPECT_GT(probe.onednn_seconds[i], 0);
    // Every count timed but the smallest was a win (the probe went on); the smallest ends it
    // unless it is 16.
    if (i > 0) EXPECT_TRUE(wins(i)) << probe.rows[i];
  }
  const bool smallest_wins = wins(0);
  if (probe.rows.front() != 16) EXPECT_FALSE(smallest_wins);
  const int64_t expected = smallest_wins ? probe.rows.front() : probe.rows.size() > 1 ? probe.rows[1] : 0;
  EXPECT_EQ(probe.onednn_from_rows, expected);
  const std::string report = probe.Describe();
  EXPECT_NE(report.find(expected > 0 ? "oneDNN from " + std::to_string(expected) + " rows" : "the BLAS at every size"),
            std::string::npos) << report;
  EXPECT_NE(report.find("1024 rows"), std::string::npos) << report;
}

}  // namespace
}  // namespace sparsegate

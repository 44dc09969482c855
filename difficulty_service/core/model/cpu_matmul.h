// A layer's linear projection and the library that computes its products on the CPU in float32:
// the BLAS (what libtorch calls by default) or oneDNN (libtorch's mkldnn tensors: the weight in
// oneDNN's layout, converted once at load; the activations converted on every call). The two agree
// within float32 rounding. Which is faster depends on the machine and on the rows of a product:
// oneDNN wins where the BLAS runs kernels narrower than the CPU has, and loses on a few rows,
// where its conversions and per-shape set-up dominate (docs/speed.md, "bfloat16 and oneDNN").
// ProbeOneDnn measures it on one layer of the model itself, at load.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_CPU_MATMUL_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_CPU_MATMUL_H_

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace sparsegate {

struct Projection {
  at::Tensor weight;  // [out, in], dense; undefined when only `onednn` is kept
  at::Tensor bias;    // [out], undefined when absent
  at::Tensor onednn;  // the weight in oneDNN's layout, undefined unless products may go there
};

// x [..., in] through the projection: oneDNN when the projection has its layout and x has at least
// `onednn_from_rows` rows (0: never), else at::linear.
at::Tensor Project(const at::Tensor& x, const Projection& projection, int64_t onednn_from_rows);

// What the probe measured: the row counts it timed (ascending), and at each the seconds of one pass
// over all the projections' products, each way (the best of a few timed stretches); and the fewest
// rows from which oneDNN was faster by at least kOneDnnMargin at that count and every larger one
// (0: not even at the largest).
struct OneDnnProbe {
  std::vector<int64_t> rows;
  std::vector<double> blas_seconds, onednn_seconds;
  int64_t onednn_from_rows = 0;
  // "oneDNN from 256 rows (one layer's products, BLAS / oneDNN ms: 64 rows 0.210 / 0.400, ...)"
  std::string Describe() const;
};
inline constexpr double kOneDnnMargin = 0.10;

// Times the products of `projections` (one decoder layer's, with both layouts) on random
// activations of 1,024, 256, 64 and 16 rows, largest first, until oneDNN is not faster; with
// `threads` intra-op threads (the forward's; the calling thread's setting is restored).
OneDnnProbe ProbeOneDnn(const std::vector<const Projection*>& projections, int threads);

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_CPU_MATMUL_H_

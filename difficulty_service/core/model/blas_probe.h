// Measures the float32 matrix-product speed that libtorch gets from the BLAS
// it was linked against.
//
// Debian's libtorch calls whatever libblas.so.3 is selected; with the
// reference BLAS a forward pass runs about 35 times slower than with
// OpenBLAS (docs/speed.md). The service measures at start-up and warns.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_BLAS_PROBE_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_BLAS_PROBE_H_

#include <string>

namespace sparsegate {

// GFLOP/s of 512x512 products on one thread (the calling thread's setting is restored): the best
// of five stretches of at least 20 ms.
double MeasureMatmulGflops();

// "OpenBLAS <kernel set>" (e.g. "OpenBLAS Haswell": OPENBLAS_CORETYPE or its own CPU detection
// chose them) when the BLAS is OpenBLAS; empty for any other BLAS.
std::string BlasKernels();

// Below this, the selected BLAS is almost certainly the reference one
// (measured here on one thread: ~5 GFLOP/s reference, ~90 OpenBLAS).
constexpr double kSlowBlasGflops = 20.0;

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_BLAS_PROBE_H_

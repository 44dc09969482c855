// The process-wide settings a program that hosts the engine makes, in one place, so that the
// server and the command line never reach into the model's internals.
//
// PrepareCpuRuntime keeps the forward's large temporaries in the heap (model/cpu_allocator.h):
// call it first thing in main, before any thread starts. MeasureBlasSpeed times the matrix
// products libtorch gets from the selected BLAS (model/blas_probe.h), for a start-up warning.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_ENGINE_RUNTIME_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_ENGINE_RUNTIME_H_

#include <string>

namespace sparsegate {

void PrepareCpuRuntime();

struct BlasSpeed {
  double gflops = 0;
  bool slow = false;  // almost certainly the reference BLAS (~35x slower forward passes)
  std::string kernels;  // "OpenBLAS Haswell"; empty for another BLAS
};
BlasSpeed MeasureBlasSpeed();

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_ENGINE_RUNTIME_H_

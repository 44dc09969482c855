#include "difficulty_service/core/engine/runtime.h"

#include "difficulty_service/core/model/blas_probe.h"
#include "difficulty_service/core/model/cpu_allocator.h"

namespace sparsegate {

void PrepareCpuRuntime() { KeepLargeTensorsInHeap(); }

BlasSpeed MeasureBlasSpeed() {
  const double gflops = MeasureMatmulGflops();
  return {gflops, gflops < kSlowBlasGflops, BlasKernels()};
}

}  // namespace sparsegate

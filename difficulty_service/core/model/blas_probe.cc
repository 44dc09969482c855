#include "difficulty_service/core/model/blas_probe.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <dlfcn.h>

#include <algorithm>
#include <chrono>

namespace sparsegate {

double MeasureMatmulGflops() {
  c10::InferenceMode guard;
  // One thread: the question is which BLAS is selected, and with every core busy elsewhere a team
  // of threads waits on its slowest member at each product (11-34 GFLOP/s measured so, below the
  // warning's threshold with OpenBLAS selected), while one thread still gets its share of a core.
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  constexpr int64_t n = 512;
  constexpr double kFlops = 2.0 * n * n * n;
  at::Tensor a = at::randn({n, n});
  at::Tensor b = at::randn({n, n});
  at::mm(a, b);  // first call pays for thread start-up
  // The best of five timed stretches of at least 20 ms each: a single timed product (~3 ms) measured
  // mostly wake-ups and other processes' load, and other load only ever lowers a stretch's rate.
  // ~0.1 s with OpenBLAS, ~0.5 s with the reference BLAS (~100 ms a product on one thread).
  using Clock = std::chrono::steady_clock;
  double best = 0;
  for (int stretch = 0; stretch < 5; ++stretch) {
    int products = 0;
    const auto start = Clock::now();
    double seconds = 0;
    do {
      at::mm(a, b);
      ++products;
      seconds = std::chrono::duration<double>(Clock::now() - start).count();
    } while (seconds < 0.02);
    best = std::max(best, products * kFlops / seconds / 1e9);
  }
  at::set_num_threads(threads);
  return best;
}

std::string BlasKernels() {
  // Looked up, not linked: the selected libblas.so.3 may be another BLAS, without this symbol.
  using CoreName = char* (*)();
  auto core_name = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  const char* name = core_name != nullptr ? core_name() : nullptr;
  return name != nullptr ? std::string("OpenBLAS ") + name : "";
}

}  // namespace sparsegate

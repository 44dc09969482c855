#include "difficulty_service/model/blas_probe.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace sparsegate {

double MeasureMatmulGflops() {
  c10::InferenceMode guard;
  constexpr int64_t n = 512;
  at::Tensor a = at::randn({n, n});
  at::Tensor b = at::randn({n, n});
  at::mm(a, b);  // first call pays for thread start-up
  std::vector<double> rates;
  for (int i = 0; i < 5; ++i) {
    auto start = std::chrono::steady_clock::now();
    at::mm(a, b);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rates.push_back(2.0 * n * n * n / std::max(seconds, 1e-9) / 1e9);
  }
  std::nth_element(rates.begin(), rates.begin() + rates.size() / 2, rates.end());
  return rates[rates.size() / 2];
}

}  // namespace sparsegate

#include "difficulty_service/core/model/cpu_matmul.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>

#include "absl/strings/str_cat.h"

namespace sparsegate {

at::Tensor Project(const at::Tensor& x, const Projection& projection, int64_t onednn_from_rows) {
  const c10::optional<at::Tensor> bias =
      projection.bias.defined() ? c10::optional<at::Tensor>(projection.bias) : c10::nullopt;
  const int64_t rows = x.numel() / std::max<int64_t>(1, x.size(-1));
  const bool onednn = projection.onednn.defined() &&
                      (!projection.weight.defined() || (onednn_from_rows > 0 && rows >= onednn_from_rows));
  if (!onednn) return at::linear(x, projection.weight, bias);
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes.back() = projection.onednn.size(0);
  return at::mkldnn_linear(x.reshape({-1, x.size(-1)}).contiguous().to_mkldnn(), projection.onednn, bias)
      .to_dense()
      .view(sizes);
}

namespace {

// Seconds per pass over every projection's product on `inputs`: the best of three stretches of
// at least 2 ms each, after one untimed pass (oneDNN builds its kernel for a shape on the first
// call). A single pass over a small layer takes microseconds, which one timing cannot resolve from
// a wake-up; other load only ever slows a stretch.
double BestSeconds(const std::vector<const Projection*>& projections, const std::vector<at::Tensor>& inputs,
                   int64_t onednn_from_rows) {
  using Clock = std::chrono::steady_clock;
  auto pass = [&] {
    for (size_t i = 0; i < projections.size(); ++i) Project(inputs[i], *projections[i], onednn_from_rows);
  };
  pass();
  double best = std::numeric_limits<double>::infinity();
  for (int stretch = 0; stretch < 3; ++stretch) {
    int passes = 0;
    double seconds = 0;
    const auto start = Clock::now();
    do {
      pass();
      ++passes;
      seconds = std::chrono::duration<double>(Clock::now() - start).count();
    } while (seconds < 0.002);
    best = std::min(best, seconds / passes);
  }
  return best;
}

}  // namespace

OneDnnProbe ProbeOneDnn(const std::vector<const Projection*>& projections, int threads) {
  c10::InferenceMode guard;
  const int threads_before = at::get_num_threads();
  at::set_num_threads(threads);
  OneDnnProbe probe;
  at::manual_seed(0);
  // Largest first: the choice is the fewest rows of an unbroken run of wins up to the largest, so
  // the first loss ends the probe (on a small model, at once).
  for (int64_t rows : {1024, 256, 64, 16}) {
    std::vector<at::Tensor> inputs;
    for (const Projection* p : projections) inputs.push_back(at::randn({rows, p->weight.size(1)}));
    const double blas = BestSeconds(projections, inputs, /*onednn_from_rows=*/0);
    const double onednn = BestSeconds(projections, inputs, /*onednn_from_rows=*/1);
    probe.rows.insert(probe.rows.begin(), rows);
    probe.blas_seconds.insert(probe.blas_seconds.begin(), blas);
    probe.onednn_seconds.insert(probe.onednn_seconds.begin(), onednn);
    if (onednn > (1 - kOneDnnMargin) * blas) break;
    probe.onednn_from_rows = rows;
  }
  at::set_num_threads(threads_before);
  for (size_t i = probe.rows.size(); i-- > 0;) {
    if (probe.onednn_seconds[i] > (1 - kOneDnnMargin) * probe.blas_seconds[i]) break;
    probe.onednn_from_rows = probe.rows[i];
  }
  return probe;
}

std::string OneDnnProbe::Describe() const {
  std::string out = onednn_from_rows > 0 ? absl::StrCat("oneDNN from ", onednn_from_rows, " rows")
                                         : std::string("the BLAS at every size");
  absl::StrAppend(&out, " (one layer's products, BLAS / oneDNN ms:");
  for (size_t i = 0; i < rows.size(); ++i) {
    char times[64];
    std::snprintf(times, sizeof(times), "%.3f / %.3f", 1e3 * blas_seconds[i], 1e3 * onednn_seconds[i]);
    absl::StrAppend(&out, i == 0 ? " " : ", ", rows[i], " rows ", times);
  }
  absl::StrAppend(&out, ")");
  return out;
}

}  // namespace sparsegate

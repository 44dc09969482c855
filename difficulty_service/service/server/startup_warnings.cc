#include "difficulty_service/service/server/startup_warnings.h"

#include <spdlog/spdlog.h>

#include "difficulty_service/core/engine/runtime.h"

namespace sparsegate {
namespace {

// "127.0.0.1:p", "[::1]:p", "localhost:p", "unix:..." reach only this machine.
bool IsLoopbackAddress(const std::string& address) {
  for (const char* prefix : {"127.", "[::1]:", "localhost:", "unix:"})
    if (address.rfind(prefix, 0) == 0) return true;
  return false;
}

}  // namespace

void CheckBlasSpeed() {
  const BlasSpeed blas = MeasureBlasSpeed();
  if (blas.slow) {
    spdlog::warn("****************************************************************");
    spdlog::warn("matrix products run at {:.1f} GFLOP/s: the reference BLAS is selected.", blas.gflops);
    spdlog::warn("Forward passes will be ~35x slower. Install libopenblas0-openmp");
    spdlog::warn("(or select it with update-alternatives for libblas.so.3).");
    spdlog::warn("****************************************************************");
  } else {
    spdlog::info("matrix products run at {:.0f} GFLOP/s on one thread{}", blas.gflops,
                 blas.kernels.empty() ? "" : " (" + blas.kernels + " kernels)");
  }
}

void WarnAboutExposure(const std::string& address, bool tls, bool requires_token) {
  if (IsLoopbackAddress(address)) return;
  if (!tls && !requires_token) {
    spdlog::warn("****************************************************************");
    spdlog::warn("listening on {} without TLS or authentication: anyone who can reach the port", address);
    spdlog::warn("can call it. Add --tls-cert/--tls-key (and --tls-client-ca or --auth-tokens),");
    spdlog::warn("bind 127.0.0.1, or keep the port inside a private network.");
    spdlog::warn("****************************************************************");
  } else if (!tls) {
    spdlog::warn("listening on {} without TLS: bearer tokens and prompts cross the network in the clear", address);
  }
}

}  // namespace sparsegate

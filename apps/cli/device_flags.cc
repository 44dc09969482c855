#include "apps/cli/device_flags.h"

#include <CLI/CLI.hpp>

namespace sparsegate::cli {

void AddDeviceOptions(CLI::App* cmd, DeviceFlags* flags) {
  CLI::Validator device_check(
      [](std::string& value) {
        auto device = ParseDevice(value);
        return device.ok() ? std::string() : std::string(device.status().message());
      },
      "cpu|cuda|cuda:N");
  CLI::Validator dtype_check(
      [](std::string& value) {
        auto dtype = ParseComputeDtype(value);
        return dtype.ok() ? std::string() : std::string(dtype.status().message());
      },
      "auto|float32|bfloat16|float16");
  cmd->add_option("--device", flags->device, "where the forward pass and the metrics run: cpu, cuda or cuda:N")
      ->capture_default_str()->check(device_check);
  cmd->add_option("--dtype", flags->dtype,
                  "compute dtype; auto is float32 on cpu and the checkpoint's own dtype on a GPU")
      ->capture_default_str()->check(dtype_check);
  cmd->add_option("--cpu-matmul", flags->cpu_matmul,
                  "library for float32 products on the CPU: blas (libtorch's default), onednn (faster where "
                  "the BLAS runs narrower kernels than the CPU has; docs/speed.md), or auto: both timed on one "
                  "layer at load, oneDNN from the rows where it was faster")
      ->capture_default_str()->check(CLI::IsMember({"auto", "blas", "onednn"}));
}

}  // namespace sparsegate::cli

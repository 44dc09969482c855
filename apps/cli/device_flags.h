// --device, --dtype and --cpu-matmul, shared by the commands that run the model (serve, score, filter, evaluate,
// generate). Both are checked while the command line is parsed, so `--device cuda` on a build
// without CUDA fails before any file is read, with the reason.
#ifndef SPARSEGATE_APPS_CLI_DEVICE_FLAGS_H_
#define SPARSEGATE_APPS_CLI_DEVICE_FLAGS_H_

#include <CLI/App.hpp>
#include <optional>
#include <string>

#include "difficulty_service/core/model/device.h"

namespace sparsegate::cli {

struct DeviceFlags {
  std::string device = "cpu";
  std::string dtype = "auto";
  std::string cpu_matmul = "auto";

  // Valid once the command line has parsed (the options' validators ran ParseDevice / ParseComputeDtype).
  c10::Device Device() const { return *ParseDevice(device); }
  std::optional<c10::ScalarType> Dtype() const { return *ParseComputeDtype(dtype); }
  CpuMatmul Matmul() const { return *ParseCpuMatmul(cpu_matmul); }
};

void AddDeviceOptions(CLI::App* cmd, DeviceFlags* flags);

}  // namespace sparsegate::cli

#endif  // SPARSEGATE_APPS_CLI_DEVICE_FLAGS_H_

#include "difficulty_service/core/model/device.h"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <cctype>

// A CUDA libtorch whose CMake config did not hand over the CUDA runtime's include directory still
// builds: DeviceFreeBytes then says it cannot read the free memory.
#if SPARSEGATE_HAVE_CUDA && __has_include(<cuda_runtime_api.h>) && __has_include(<c10/cuda/CUDAGuard.h>)
#define SPARSEGATE_CAN_READ_GPU_MEMORY 1
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#else
#define SPARSEGATE_CAN_READ_GPU_MEMORY 0
#endif

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace sparsegate {

absl::StatusOr<c10::Device> ParseDevice(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  int index = 0;
  const bool cuda = name == "cuda" || (name.rfind("cuda:", 0) == 0 && name.size() > 5 &&
                                       std::isdigit(static_cast<unsigned char>(name[5])) &&
                                       absl::SimpleAtoi(name.substr(5), &index) && index >= 0 && index < 64);
  if (!cuda)
    return absl::InvalidArgumentError(absl::StrCat("device '", name, "' is not one of cpu, cuda, cuda:N"));
  if (!at::hasCUDA())
    return absl::FailedPreconditionError(absl::StrCat(
        "device ", name, " was asked for, but this binary's libtorch has no CUDA (Debian's libtorch is CPU-only): "
        "build against a CUDA libtorch, e.g. -DCMAKE_PREFIX_PATH from a pip PyTorch (docs/serving.md, On a GPU)"));
  const int visible = at::detail::getCUDAHooks().getNumGPUs();
  if (index >= visible)
    return absl::FailedPreconditionError(
        absl::StrCat("device ", name, " was asked for, but this process sees ", visible, " GPU",
                     visible == 1 ? "" : "s", " (CUDA_VISIBLE_DEVICES and the driver decide which)"));
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

absl::StatusOr<std::optional<c10::ScalarType>> ParseComputeDtype(const std::string& name) {
  if (name == "auto") return std::optional<c10::ScalarType>();
  if (name == "float32" || name == "f32") return std::optional<c10::ScalarType>(c10::kFloat);
  if (name == "bfloat16" || name == "bf16") return std::optional<c10::ScalarType>(c10::kBFloat16);
  if (name == "float16" || name == "f16") return std::optional<c10::ScalarType>(c10::kHalf);
  return absl::InvalidArgumentError(
      absl::StrCat("dtype '", name, "' is not one of auto, float32, bfloat16, float16"));
}

absl::StatusOr<CpuMatmul> ParseCpuMatmul(const std::string& name) {
  if (name == "auto") return CpuMatmul::kAuto;
  if (name == "blas") return CpuMatmul::kBlas;
  if (name == "onednn") return CpuMatmul::kOneDnn;
  return absl::InvalidArgumentError(absl::StrCat("cpu matmul '", name, "' is not one of auto, blas, onednn"));
}

c10::ScalarType ResolveComputeDtype(std::optional<c10::ScalarType> requested, c10::ScalarType stored,
                                    const c10::Device& device) {
  if (requested) return *requested;
  return device.is_cpu() ? c10::kFloat : stored;
}

absl::StatusOr<int64_t> DeviceFreeBytes(const c10::Device& device) {
  if (!device.is_cuda()) return absl::UnimplementedError("only a GPU's memory is budgeted");
#if SPARSEGATE_CAN_READ_GPU_MEMORY
  c10::cuda::CUDAGuard guard(device);
  c10::cuda::CUDACachingAllocator::emptyCache();
  size_t free = 0, total = 0;
  if (cudaError_t error = cudaMemGetInfo(&free, &total); error != cudaSuccess)
    return absl::InternalError(absl::StrCat("cudaMemGetInfo on ", device.str(), ": ", cudaGetErrorString(error)));
  return static_cast<int64_t>(free);
#else
  return absl::UnimplementedError(
      "this binary was built without the CUDA runtime's headers, so it cannot ask the GPU for its free memory");
#endif
}

std::string ComputeDtypeName(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kFloat: return "float32";
    case c10::kBFloat16: return "bfloat16";
    case c10::kHalf: return "float16";
    default: return c10::toString(dtype);
  }
}

}  // namespace sparsegate

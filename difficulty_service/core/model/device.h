// Where the model runs and which floating-point type it computes in.
//
// Devices are named as PyTorch names them: "cpu", "cuda" (the current GPU,
// index 0) or "cuda:N". ParseDevice refuses a CUDA device when the libtorch
// this binary was built against has no CUDA, or when the index is past the
// GPUs it can see, so a mistyped flag fails at start-up, not at the first
// request.
//
// The compute dtype "auto" keeps CPU behaviour as it always was (F32, BF16
// and F16 weights upcast once at load) and computes on a GPU in the
// checkpoint's own dtype (BF16 as BF16, F32 as F32), as Hugging Face does
// with torch_dtype="auto".
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_DEVICE_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_DEVICE_H_

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace sparsegate {

// "cpu", "cuda", "cuda:N"; InvalidArgument for any other spelling,
// FailedPrecondition for a device this process cannot use.
absl::StatusOr<c10::Device> ParseDevice(const std::string& name);

// "auto" (nullopt), "float32", "bfloat16", "float16" (also "f32", "bf16", "f16").
absl::StatusOr<std::optional<c10::ScalarType>> ParseComputeDtype(const std::string& name);

// The dtype a model computes in on `device` when asked for `requested`
// (nullopt: auto) and its weights are stored as `stored`.
c10::ScalarType ResolveComputeDtype(std::optional<c10::ScalarType> requested, c10::ScalarType stored,
                                    const c10::Device& device);

// Bytes a GPU has free for this process's next allocations: the driver's free memory after the
// caching allocator has returned the blocks it holds unused. Unimplemented for the CPU (its memory
// is not budgeted) and where the binary was built without the CUDA runtime's headers.
absl::StatusOr<int64_t> DeviceFreeBytes(const c10::Device& device);

// "float32", "bfloat16", "float16" (the names ParseComputeDtype takes).
std::string ComputeDtypeName(c10::ScalarType dtype);

// Which library computes the layers' float32 products on the CPU (cpu_matmul.h). The BLAS is what
// libtorch calls by default. oneDNN agrees with it within float32 rounding, and is the faster where
// the BLAS runs kernels narrower than the CPU's, as OpenBLAS does under OPENBLAS_CORETYPE=Haswell on
// an AVX-512 machine, for all but the smallest products (docs/speed.md). kAuto measures both on the
// model's own layer at load and sends a forward's products to oneDNN from the rows where it was
// faster. bfloat16 products go to oneDNN either way.
enum class CpuMatmul { kAuto, kBlas, kOneDnn };
// "auto", "blas" or "onednn".
absl::StatusOr<CpuMatmul> ParseCpuMatmul(const std::string& name);

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_DEVICE_H_

// Device and dtype names as the --device and --dtype flags take them, the refusals a build
// without CUDA gives, and a thread's OpenMP team given back.
#include "difficulty_service/core/model/device.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <gtest/gtest.h>

#include "difficulty_service/core/model/openmp_teams.h"

namespace sparsegate {
namespace {

TEST(DeviceTest, CpuIsAlwaysThere) {
  auto device = ParseDevice("cpu");
  ASSERT_TRUE(device.ok()) << device.status();
  EXPECT_TRUE(device->is_cpu());
}

TEST(DeviceTest, OtherSpellingsAreRefusedByName) {
  for (const char* name : {"", "gpu", "CUDA", "cuda:", "cuda:-1", "cuda:x", "cuda:0x", "cuda:99", "tpu", "cpu:0"}) {
    auto device = ParseDevice(name);
    ASSERT_FALSE(device.ok()) << name;
    if (std::string(name) == "cuda:99" && at::hasCUDA()) continue;
    EXPECT_EQ(device.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_NE(device.status().message().find(std::string("'") + name + "'"), std::string::npos) << device.status();
  }
}

TEST(DeviceTest, CudaWithoutCudaSaysWhy) {
  if (at::hasCUDA()) GTEST_SKIP() << "this libtorch has CUDA";
  for (const char* name : {"cuda", "cuda:0", "cuda:1"}) {
    auto device = ParseDevice(name);
    ASSERT_FALSE(device.ok()) << name;
    EXPECT_EQ(device.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(device.status().message().find("no CUDA"), std::string::npos) << device.status();
  }
}

TEST(DeviceTest, AGpuPastTheVisibleOnesIsRefused) {
  if (!at::hasCUDA()) GTEST_SKIP() << "this libtorch has no CUDA";
  auto device = ParseDevice("cuda:63");
  ASSERT_FALSE(device.ok());
  EXPECT_NE(device.status().message().find("sees"), std::string::npos) << device.status();
}

TEST(DeviceTest, DtypeNamesAndAuto) {
  EXPECT_FALSE(ParseComputeDtype("auto")->has_value());
  EXPECT_EQ(**ParseComputeDtype("bfloat16"), c10::kBFloat16);
  EXPECT_EQ(**ParseComputeDtype("bf16"), c10::kBFloat16);
  EXPECT_EQ(**ParseComputeDtype("float16"), c10::kHalf);
  EXPECT_EQ(**ParseComputeDtype("float32"), c10::kFloat);
  auto bad = ParseComputeDtype("int8");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'int8'"), std::string::npos);
  // Auto keeps the CPU in float32 whatever is stored, and a GPU in the stored dtype.
  EXPECT_EQ(ResolveComputeDtype(std::nullopt, c10::kBFloat16, c10::Device(c10::kCPU)), c10::kFloat);
  EXPECT_EQ(ResolveComputeDtype(std::nullopt, c10::kBFloat16, c10::Device(c10::kCUDA, 0)), c10::kBFloat16);
  EXPECT_EQ(ResolveComputeDtype(std::nullopt, c10::kFloat, c10::Device(c10::kCUDA, 0)), c10::kFloat);
  EXPECT_EQ(ResolveComputeDtype(c10::kBFloat16, c10::kFloat, c10::Device(c10::kCPU)), c10::kBFloat16);
  EXPECT_EQ(ComputeDtypeName(c10::kBFloat16), "bfloat16");
}

// A thread gives back its OpenMP team (openmp_teams.h) and computes as before afterwards. Debian's
// libtorch runs on libgomp, so the runtime must take the call.
TEST(DeviceTest, CpuMatmulNames) {
  EXPECT_EQ(*ParseCpuMatmul("auto"), CpuMatmul::kAuto);
  EXPECT_EQ(*ParseCpuMatmul("blas"), CpuMatmul::kBlas);
  EXPECT_EQ(*ParseCpuMatmul("onednn"), CpuMatmul::kOneDnn);
  auto bad = ParseCpuMatmul("mkl");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'mkl' is not one of auto, blas, onednn"), std::string::npos) << bad.status();
}

TEST(OpenMpTeamsTest, AThreadGivesItsTeamBackAndComputesAgain) {
  at::Tensor a = at::randn({256, 256});
  at::Tensor before = at::mm(a, a);
  EXPECT_TRUE(ReleaseOpenMpTeamOfThisThread());
  EXPECT_TRUE(at::allclose(at::mm(a, a), before));
  EXPECT_TRUE(ReleaseOpenMpTeamOfThisThread());
}

}  // namespace
}  // namespace sparsegate

// DecoderModel::ForwardBytesPerToken against the memory a forward pass really allocates: every
// CPU allocation ATen makes goes through a counting allocator while HiddenStates() keeps every
// hidden state, and the peak beyond what was held before must stay within the estimate (which the
// GPU's batch budget relies on) without the estimate being wasteful (it is at most 3x the peak);
// the packed path (PackedHiddenStates, the engine's) must stay within it too.
#include <ATen/ATen.h>
#include <c10/core/CPUAllocator.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <new>
#include <unordered_map>
#include <cstdlib>
#include <numeric>
#include <ostream>
#include <string>

#include "difficulty_service/core/checkpoint/checkpoint.h"
#include "difficulty_service/core/model/decoder_model.h"

namespace sparsegate {
namespace {

// Allocates 64-byte aligned blocks, as the default CPU allocator does, and keeps the bytes live and their
// peak. The context is the data pointer itself, as raw_allocate (oneDNN's bfloat16 kernels) needs,
// so the sizes are kept by address. Written against the c10 Allocator interface of Debian's
// libtorch, the only one the tests are built with; there is one instance (the deleter is static).
class CountingAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t bytes) const override {
    void* data = nullptr;
    if (posix_memalign(&data, 64, std::max<size_t>(bytes, 1)) != 0) throw std::bad_alloc();
    std::lock_guard<std::mutex> lock(mu_);
    sizes_[data] = static_cast<int64_t>(bytes);
    live_ += static_cast<int64_t>(bytes);
    peak_ = std::max(peak_, live_);
    return {data, data, &Free, c10::Device(c10::kCPU)};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &Free; }

  int64_t live() const {
    std::lock_guard<std::mutex> lock(mu_);
    return live_;
  }
  int64_t peak() const {
    std::lock_guard<std::mutex> lock(mu_);
    return peak_;
  }
  void ResetPeak() {
    std::lock_guard<std::mutex> lock(mu_);
    peak_ = live_;
  }
  static CountingAllocator& Instance() {
    static CountingAllocator* instance = new CountingAllocator;
    return *instance;
  }

 private:
  static void Free(void* data) {
    CountingAllocator& self = Instance();
    {
      std::lock_guard<std::mutex> lock(self.mu_);
      auto it = self.sizes_.find(data);
      if (it != self.sizes_.end()) {
        self.live_ -= it->second;
        self.sizes_.erase(it);
      }
    }
    std::free(data);
  }

  mutable std::mutex mu_;
  mutable std::unordered_map<void*, int64_t> sizes_;
  mutable int64_t live_ = 0;
  mutable int64_t peak_ = 0;
};

struct Case {
  std::string name;
  std::optional<c10::ScalarType> dtype;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class ForwardMemoryTest : public ::testing::TestWithParam<Case> {};

TEST_P(ForwardMemoryTest, ThePeakStaysWithinTheEstimate) {
  const char* root = std::getenv("SPARSEGATE_REFERENCE_DIR");
  ASSERT_NE(root, nullptr);
  auto checkpoint = Checkpoint::Open(std::string(root) + "/" + GetParam().name);
  ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
  ModelLoadOptions options;
  options.dtype = GetParam().dtype;
  // The estimate budgets a GPU's memory; on the CPU, products through oneDNN (which kAuto may
  // choose by timing) add conversions the estimate does not count, and only the BLAS's are held to it.
  options.cpu_matmul = CpuMatmul::kBlas;
  auto model = DecoderModel::Load(**checkpoint, options);
  ASSERT_TRUE(model.ok()) << model.status();
  options.packed_attention = PackedAttention::kPadded;
  auto padded = DecoderModel::Load(**checkpoint, options);
  ASSERT_TRUE(padded.ok()) << padded.status();
  std::vector<int> every(static_cast<size_t>((*model)->num_layers() + 1));
  std::iota(every.begin(), every.end(), 0);
  const int64_t vocab = (*checkpoint)->config().vocab_size;

  c10::Allocator* original = c10::GetCPUAllocator();
  CountingAllocator& counting = CountingAllocator::Instance();
  c10::SetCPUAllocator(&counting, /*priority=*/100);
  for (auto [rows, length] : {std::pair<int64_t, int64_t>{1, 200}, {4, 64}, {16, 16}, {2, 256}}) {
    at::Tensor ids = at::randint(vocab, {rows, length}, at::kLong);
    const int64_t before = counting.live();
    counting.ResetPeak();
    {
      auto states = (*model)->HiddenStates(ids, every);
      ASSERT_EQ(states.size(), every.size());
    }
    const int64_t used = counting.peak() - before;
    const int64_t estimate = (*model)->ForwardBytesPerToken(length, static_cast<int>(every.size())) * rows * length;
    RecordProperty(GetParam().name + "_" + std::to_string(rows) + "x" + std::to_string(length),
                   std::to_string(used) + "/" + std::to_string(estimate));
    EXPECT_LE(used, estimate) << rows << " x " << length << ": peak " << used << " bytes, estimate " << estimate;
    EXPECT_GE(used * 3, estimate) << rows << " x " << length << ": peak " << used << " bytes, estimate " << estimate;
    // The engine's packed path stays within the bound, with attention per prompt (the CPU's) and
    // padded (a GPU's, whose estimate adds the padded copies).
    for (const DecoderModel* packed : {model->get(), padded->get()}) {
      const int64_t before_packed = counting.live();
      counting.ResetPeak();
      {
        std::vector<int64_t> lengths(static_cast<size_t>(rows), length);
        auto states = packed->PackedHiddenStates(ids.reshape({-1}), lengths, every);
        ASSERT_EQ(states.size(), every.size());
      }
      const int64_t used_packed = counting.peak() - before_packed;
      const int64_t bound = packed->ForwardBytesPerToken(length, static_cast<int>(every.size())) * rows * length;
      EXPECT_LE(used_packed, bound) << rows << " x " << length << " packed: peak " << used_packed << " bytes";
    }
  }
  c10::SetCPUAllocator(original, /*priority=*/100);
}

INSTANTIATE_TEST_SUITE_P(Cases, ForwardMemoryTest,
                         ::testing::Values(Case{"qwen2_f32", std::nullopt}, Case{"qwen3_f32", std::nullopt},
                                           Case{"mistral_f32", std::nullopt}, Case{"llama31_f32", std::nullopt},
                                           Case{"qwen2_bf16", c10::kBFloat16}),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace sparsegate

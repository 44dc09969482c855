// Generation against the forward it is built on: the KV cache gives the
// logits of a full recomputation, whether the prompt is run at once, in
// chunks or token by token (sliding windows included); the logits equal the
// Python reference's last hidden state times the LM head; greedy decoding
// with the cache equals decoding by recomputation; sampling is seeded.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "difficulty_service/core/checkpoint/checkpoint.h"
#include "difficulty_service/core/model/decoder_model.h"
#include "difficulty_service/core/model/generation.h"

namespace sparsegate {
namespace {

at::Tensor ReadF32(const TensorView& view) {
  at::Tensor t = at::empty(view.shape, at::kFloat);
  if (view.dtype == DType::kF32) {
    std::memcpy(t.data_ptr(), view.data, view.nbytes);
    return t;
  }
  at::ScalarType type = view.dtype == DType::kBF16 ? at::kBFloat16 : at::kHalf;
  at::Tensor raw = at::empty(view.shape, at::TensorOptions().dtype(type));
  std::memcpy(raw.data_ptr(), view.data, view.nbytes);
  return raw.to(at::kFloat);
}

class GenerationTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = std::string(std::getenv("SPARSEGATE_REFERENCE_DIR")) + "/" + GetParam();
    auto checkpoint = Checkpoint::Open(dir_);
    ASSERT_TRUE(checkpoint.ok()) << checkpoint.status();
    checkpoint_ = *std::move(checkpoint);
    auto model = DecoderModel::Load(*checkpoint_, ModelLoadOptions{/*lm_head=*/true});
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = *std::move(model);
    auto reference = SafetensorsFile::Open(dir_ + "/reference.safetensors");
    ASSERT_TRUE(reference.ok());
    reference_ = *std::move(reference);
    const TensorView& ids = reference_->tensors().at("input_ids");
    const TensorView& lengths = reference_->tensors().at("lengths");
    const int64_t* len = reinterpret_cast<const int64_t*>(lengths.data);
    const int64_t* all = reinterpret_cast<const int64_t*>(ids.data);
    row_ = ids.shape[0] - 1;  // the longest sequence (24 tokens, past every sliding window)
    prompt_.assign(all + row_ * ids.shape[1], all + row_ * ids.shape[1] + len[row_]);
  }

  at::Tensor Ids(size_t begin, size_t end) const {
    return at::tensor(std::vector<int64_t>(prompt_.begin() + begin, prompt_.begin() + end), at::kLong).unsqueeze(0);
  }

  std::string dir_;
  std::unique_ptr<Checkpoint> checkpoint_;
  std::unique_ptr<DecoderModel> model_;
  std::unique_ptr<SafetensorsFile> reference_;
  int64_t row_ = 0;
  std::vector<int64_t> prompt_;
};

TEST_P(GenerationTest, CacheGivesTheLogitsOfAFullRecomputation) {
  const size_t n = prompt_.size();
  DecoderModel::KvCache whole;
  at::Tensor at_once = model_->NextTokenLogits(Ids(0, n), &whole);
  EXPECT_EQ(whole.length(), static_cast<int64_t>(n));

  DecoderModel::KvCache chunked;
  model_->NextTokenLogits(Ids(0, 5), &chunked);
  model_->NextTokenLogits(Ids(5, 13), &chunked);
  at::Tensor in_chunks = model_->NextTokenLogits(Ids(13, n), &chunked);

  DecoderModel::KvCache stepwise;
  at::Tensor one_by_one;
  for (size_t t = 0; t < n; ++t) one_by_one = model_->NextTokenLogits(Ids(t, t + 1), &stepwise);

  EXPECT_LT((at_once - in_chunks).abs().max().item<double>(), 1e-4);
  EXPECT_LT((at_once - one_by_one).abs().max().item<double>(), 1e-4);

  // Against the independent reference: its final hidden state at the last position, times the head.
  const int L = model_->num_layers();
  at::Tensor hidden = ReadF32(reference_->tensors().at("hidden_states." + std::to_string(L)))[row_][n - 1];
  auto head = checkpoint_->Has("lm_head.weight") ? checkpoint_->Find("lm_head.weight")
                                                 : checkpoint_->Find("model.embed_tokens.weight");
  ASSERT_TRUE(head.ok());
  at::Tensor expected = at::matmul(ReadF32(*head->view), hidden);
  EXPECT_LT((at_once[0] - expected).abs().max().item<double>(), 1e-3);
}

TEST_P(GenerationTest, GreedyWithCacheEqualsGreedyByRecomputation) {
  GenerationOptions options;
  options.max_new_tokens = 12;
  std::vector<int32_t> prompt(prompt_.begin(), prompt_.begin() + 7);
  auto generated = Generate(*model_, prompt, options);
  ASSERT_EQ(generated.size(), 1u);
  ASSERT_EQ(generated[0].size(), 12u);

  std::vector<int64_t> sequence(prompt.begin(), prompt.end());
  for (int step = 0; step < 12; ++step) {
    DecoderModel::KvCache fresh;  // no reuse: the whole sequence again
    at::Tensor logits = model_->NextTokenLogits(at::tensor(sequence, at::kLong).unsqueeze(0), &fresh);
    int64_t next = logits.argmax(-1).item<int64_t>();
    EXPECT_EQ(generated[0][step], next) << "step " << step;
    sequence.push_back(next);
  }
}

TEST_P(GenerationTest, SamplingIsSeededAndStopsAtStopIds) {
  GenerationOptions options;
  options.max_new_tokens = 10;
  options.temperature = 1.0;
  options.num_samples = 4;
  options.seed = 7;
  std::vector<int32_t> prompt(prompt_.begin(), prompt_.begin() + 5);
  auto a = Generate(*model_, prompt, options);
  auto b = Generate(*model_, prompt, options);
  ASSERT_EQ(a.size(), 4u);
  EXPECT_EQ(a, b);
  // Stop at whatever the first sample produced second: it ends there, inclusive.
  options.stop_ids = {a[0][1]};
  auto stopped = Generate(*model_, prompt, options);
  EXPECT_EQ(stopped[0].size(), 2u);
  EXPECT_EQ(stopped[0].back(), a[0][1]);
}

INSTANTIATE_TEST_SUITE_P(Architectures, GenerationTest,
                         ::testing::Values("qwen2_f32", "qwen3_f32", "llama31_f32", "mistral_f32", "qwen2_bf16",
                                           "mistral_f32_tied"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

}  // namespace
}  // namespace sparsegate

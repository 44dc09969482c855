#include "difficulty_service/core/model/generation.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>

namespace sparsegate {

std::vector<std::vector<int32_t>> Generate(const DecoderModel& model, const std::vector<int32_t>& prompt,
                                           const GenerationOptions& options) {
  c10::InferenceMode guard;
  const int64_t n = std::max(1, options.num_samples);
  std::vector<std::vector<int32_t>> out(n);
  if (prompt.empty() || options.max_new_tokens <= 0) return out;

  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  auto pick = [&](const at::Tensor& logits) {  // [n, vocab] -> [n]
    if (options.temperature <= 0) return logits.argmax(-1);
    at::Tensor probs = at::softmax(logits.to(at::kDouble) / options.temperature, -1);
    return at::multinomial(probs, 1, /*replacement=*/true, generator).squeeze(1);
  };

  DecoderModel::KvCache cache;
  std::vector<int64_t> prompt64(prompt.begin(), prompt.end());
  at::Tensor logits = model.NextTokenLogits(at::tensor(prompt64, at::kLong).unsqueeze(0), &cache);
  cache.RepeatRows(n);
  logits = logits.expand({n, logits.size(1)});

  std::vector<bool> done(n, false);
  for (int step = 0; step < options.max_new_tokens; ++step) {
    at::Tensor next = pick(logits).contiguous();
    const int64_t* ids = next.data_ptr<int64_t>();
    bool all_done = true;
    for (int64_t s = 0; s < n; ++s) {
      if (done[s]) continue;
      out[s].push_back(static_cast<int32_t>(ids[s]));
      done[s] = std::count(options.stop_ids.begin(), options.stop_ids.end(), static_cast<int32_t>(ids[s])) > 0;
      all_done = all_done && done[s];
    }
    if (all_done || step + 1 == options.max_new_tokens) break;
    // Finished samples keep decoding in the batch (their tokens are ignored):
    // dropping rows from the cache would cost more than it saves here.
    logits = model.NextTokenLogits(next.unsqueeze(1), &cache);
  }
  return out;
}

}  // namespace sparsegate

// Text generation with a KV cache: greedy decoding, or sampling at a
// temperature, of one or several continuations of one prompt.
//
// The prompt is run once; its cache is then repeated for every sample, so
// pass@k costs one prefill. Decoding stops per sample at a stop id, or for
// all samples after max_new_tokens. Deterministic for a given seed.
// Lives with the model so that every caller (the embedded model's training
// and evaluation, pass@k measurements) decodes the same way.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_GENERATION_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_GENERATION_H_

#include <cstdint>
#include <vector>

#include "difficulty_service/core/model/decoder_model.h"

namespace sparsegate {

struct GenerationOptions {
  int max_new_tokens = 64;
  double temperature = 0.0;  // 0: greedy (argmax)
  int num_samples = 1;
  uint64_t seed = 0;
  std::vector<int32_t> stop_ids;  // included in the output when generated
};

// Returns num_samples continuations (new tokens only). The model must have
// been loaded with its LM head.
std::vector<std::vector<int32_t>> Generate(const DecoderModel& model, const std::vector<int32_t>& prompt,
                                           const GenerationOptions& options);

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_GENERATION_H_

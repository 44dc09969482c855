// Rotary position embedding tables, computed the way Hugging Face computes
// them (float32 inverse frequencies, float32 angle products) so that hidden
// states agree with transformers to float rounding.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_ROPE_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_ROPE_H_

#include <ATen/core/Tensor.h>

#include "difficulty_service/core/checkpoint/model_config.h"

namespace sparsegate {

class RotaryEmbedding {
 public:
  RotaryEmbedding(const RopeConfig& rope, int64_t head_dim);

  // cos and sin for positions [0, length), each [length, head_dim].
  std::pair<at::Tensor, at::Tensor> Table(int64_t length) const;

  // x: [..., T, head_dim]; cos/sin: [T, head_dim]. The rotate-half form:
  // pairs are (i, i + head_dim/2), not adjacent channels.
  static at::Tensor Apply(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

  const at::Tensor& inv_freq() const { return inv_freq_; }

 private:
  at::Tensor inv_freq_;  // [head_dim / 2], float32
};

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_ROPE_H_

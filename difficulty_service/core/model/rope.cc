#include "difficulty_service/core/model/rope.h"

#include <ATen/ATen.h>

#include <cmath>

namespace sparsegate {
namespace {

// Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, and
// the band between is interpolated smoothly.
at::Tensor ScaleLlama3(const at::Tensor& inv_freq, const RopeConfig& rope) {
  const double old_context = static_cast<double>(rope.original_max_position_embeddings);
  const double low_freq_wavelen = old_context / rope.low_freq_factor;
  const double high_freq_wavelen = old_context / rope.high_freq_factor;
  at::Tensor wavelen = 2 * M_PI / inv_freq;
  at::Tensor scaled = at::where(wavelen > low_freq_wavelen, inv_freq / rope.factor, inv_freq);
  at::Tensor smooth = (old_context / wavelen - rope.low_freq_factor) / (rope.high_freq_factor - rope.low_freq_factor);
  at::Tensor smoothed = (1 - smooth) * scaled / rope.factor + smooth * scaled;
  at::Tensor medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
  return at::where(medium, smoothed, scaled);
}

}  // namespace

RotaryEmbedding::RotaryEmbedding(const RopeConfig& rope, int64_t head_dim) {
  at::Tensor exponents = at::arange(0, head_dim, 2, at::kLong).to(at::kFloat) / static_cast<double>(head_dim);
  inv_freq_ = 1.0 / at::pow(rope.theta, exponents);
  switch (rope.type) {
    case RopeConfig::Type::kDefault:
      break;
    case RopeConfig::Type::kLinear:
      inv_freq_ = inv_freq_ / rope.factor;
      break;
    case RopeConfig::Type::kLlama3:
      inv_freq_ = ScaleLlama3(inv_freq_, rope);
      break;
  }
  inv_freq_ = inv_freq_.to(at::kFloat).contiguous();
}

std::pair<at::Tensor, at::Tensor> RotaryEmbedding::Table(int64_t length) const {
  at::Tensor positions = at::arange(length, at::kFloat);
  at::Tensor angles = at::outer(positions, inv_freq_);  // [T, head_dim/2]
  at::Tensor emb = at::cat({angles, angles}, -1);       // [T, head_dim]
  return {emb.cos(), emb.sin()};
}

at::Tensor RotaryEmbedding::Apply(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  at::Tensor x1 = x.narrow(-1, 0, half);
  at::Tensor x2 = x.narrow(-1, half, half);
  at::Tensor rotated = at::cat({-x2, x1}, -1);
  return x * cos + rotated * sin;
}

}  // namespace sparsegate

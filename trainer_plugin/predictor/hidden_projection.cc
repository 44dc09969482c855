#include "trainer_plugin/predictor/hidden_projection.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "trainer_plugin/stable_hash.h"

namespace sparsegate::plugin {
namespace {

// kSigns[b][i] is +1 when bit i of byte b is set, -1 otherwise: applies eight signs of a hash at
// once without branches, so the projection's inner loop vectorises.
using SignTable = std::array<std::array<double, 8>, 256>;

const SignTable& Signs() {
  static const SignTable table = [] {
    SignTable t{};
    for (int b = 0; b < 256; ++b) {
      for (int i = 0; i < 8; ++i) t[b][i] = ((b >> i) & 1) ? 1.0 : -1.0;
    }
    return t;
  }();
  return table;
}

}  // namespace

HiddenProjection::HiddenProjection(int dims, uint64_t seed, std::vector<int32_t> excluded_channels)
    : dims_(dims), seed_(seed), excluded_channels_(std::move(excluded_channels)) {
  std::sort(excluded_channels_.begin(), excluded_channels_.end());
}

std::vector<float> HiddenProjection::Project(const std::vector<float>& hidden) const {
  std::vector<double> kept(hidden.begin(), hidden.end());
  for (int32_t c : excluded_channels_) {
    if (c >= 0 && static_cast<size_t>(c) < kept.size()) kept[c] = 0;
  }
  double sum_sq = 0;
  size_t counted = 0;
  for (size_t c = 0; c < kept.size(); ++c) {
    if (!std::binary_search(excluded_channels_.begin(), excluded_channels_.end(), static_cast<int32_t>(c))) {
      sum_sq += kept[c] * kept[c];
      ++counted;
    }
  }
  std::vector<double> out(dims_, 0.0);
  if (counted == 0 || sum_sq == 0) return std::vector<float>(dims_, 0.0f);
  const double inv_rms = 1.0 / std::sqrt(sum_sq / static_cast<double>(counted));

  // Output k of block b takes bit k of MixHash64(seed, channel * blocks + b) as its sign. The
  // output is padded to whole bytes of signs and the padding dropped at the end.
  const SignTable& table = Signs();
  const int blocks = (dims_ + 63) / 64;
  out.resize(static_cast<size_t>(blocks) * 64, 0.0);
  for (size_t c = 0; c < kept.size(); ++c) {
    if (kept[c] == 0) continue;
    const double v = kept[c] * inv_rms;
    for (int b = 0; b < blocks; ++b) {
      const uint64_t signs = MixHash64(seed_, static_cast<uint64_t>(c) * static_cast<uint64_t>(blocks) + b);
      double* block = out.data() + b * 64;
      for (int byte = 0; byte < 8; ++byte) {
        const std::array<double, 8>& s = table[(signs >> (8 * byte)) & 0xFF];
        for (int i = 0; i < 8; ++i) block[8 * byte + i] += v * s[i];
      }
    }
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(dims_));
  std::vector<float> result(dims_);
  for (int k = 0; k < dims_; ++k) result[k] = static_cast<float>(out[k] * scale);
  return result;
}

}  // namespace sparsegate::plugin

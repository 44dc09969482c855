// Compresses a pooled hidden vector (thousands of channels) to a few dozen numbers for the linear
// probe, without any fitted state, so that it can be stored with each observation and the
// checkpoint stays small.
//
// Steps: zero the excluded channels (the caller's massive-activation channels, which would
// otherwise dominate every projection); divide by the RMS of the remaining channels, so the probe
// sees the vector's direction and not its scale; multiply by a fixed pseudo-random matrix with
// entries +-1/sqrt(dims), each sign a bit of MixHash64(seed, channel, block). By the
// Johnson-Lindenstrauss property inner products survive approximately, so a logistic probe on
// the projection is a ridge-like probe on the full vector restricted to a random subspace; with a
// few hundred observed prompts a 64-dimensional probe is about what the data can support anyway,
// and the Newton fit stays exact and cheap. The same (dims, seed) always gives the same matrix,
// on every machine: the checkpoint stores projections, not vectors.
#ifndef SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_HIDDEN_PROJECTION_H_
#define SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_HIDDEN_PROJECTION_H_

#include <cstdint>
#include <vector>

namespace sparsegate::plugin {

class HiddenProjection {
 public:
  HiddenProjection(int dims, uint64_t seed, std::vector<int32_t> excluded_channels);

  int dims() const { return dims_; }

  // `hidden` must be finite and non-empty. An all-zero vector (after exclusions) projects to zeros.
  std::vector<float> Project(const std::vector<float>& hidden) const;

 private:
  int dims_;
  uint64_t seed_;
  std::vector<int32_t> excluded_channels_;  // sorted
};

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_HIDDEN_PROJECTION_H_

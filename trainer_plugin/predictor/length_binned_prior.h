// The unsupervised prior: what the plugin guesses before it has seen any outcome.
//
// A prompt's score is the percentile of one sparsity metric among reference prompts of similar
// length, mapped linearly to a pass rate. Length bins are quantile bins of log(token_count) over
// the reference set, because prompt length is confounded with both difficulty and sparsity
// (docs/api.md, The features): comparing a prompt only with prompts of its own length keeps the score from being
// a length detector. Within a bin the percentile is the mid-rank (ties count half).
//
// This is a ranking heuristic, NOT a calibrated probability. The per-prompt correlation of any
// single metric with success is weak (|r| about 0.1 on DeepMath) and its sign is not universal,
// so the default direction (a higher metric value, i.e. sparser for top-k energy, means harder)
// is an assumption, and the mapped range [hardest_pass_rate, easiest_pass_rate] is deliberately
// narrow so that the policy's defaults never drop or defer a prompt on the prior alone. The
// supervised model replaces it as soon as outcomes show it does better (see predictor.h).
#ifndef SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_LENGTH_BINNED_PRIOR_H_
#define SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_LENGTH_BINNED_PRIOR_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace sparsegate::plugin {

enum class PriorDirection {
  kHigherIsHarder,  // e.g. top-k energy, Hoyer, Gini: higher = sparser = assumed harder
  kLowerIsHarder,   // e.g. heavy-tail fraction, effective rank: lower = sparser = assumed harder
};

struct PriorConfig {
  // The schema column the prior reads. Empty: the first column whose name ends in
  // "top10_energy", which is the last layer at last-token pooling when the client lists that
  // feature set first (the reference study's setting).
  std::string metric_column;
  PriorDirection direction = PriorDirection::kHigherIsHarder;
  // Five length bins keep about 20% of the reference per bin: fine enough to remove most of the
  // length effect, coarse enough that percentiles within a bin are stable.
  int length_bins = 5;
  // Fewer bins are used when the reference is small, so that no bin has fewer prompts than this.
  int min_prompts_per_bin = 20;
  // The pass rates the easiest and the hardest percentile map to. The range stays inside the
  // policy's default (drop, defer) thresholds on purpose: see the header comment.
  double easiest_pass_rate = 0.8;
  double hardest_pass_rate = 0.05;
  // When the caller gives no reference set, prompts seen in Decide calls form it, up to this many
  // distinct prompts (the first ones seen; later ones only update their own entries).
  size_t max_reference_prompts = 50000;
};

absl::Status ValidatePriorConfig(const PriorConfig& config);

struct ReferencePoint {
  double log_token_count = 0;
  double metric = 0;
};

class LengthBinnedPrior {
 public:
  explicit LengthBinnedPrior(PriorConfig config) : config_(std::move(config)) {}

  // Replaces the reference set and rebuilds the bins (a sort: call once per batch, not per prompt).
  void Rebuild(const std::vector<ReferencePoint>& reference);

  // The metric's mid-rank percentile in [0, 1] within the prompt's length bin; 0.5 with an empty
  // reference.
  double Percentile(double log_token_count, double metric) const;

  // 0 = assumed easiest, 1 = assumed hardest: the percentile turned by the configured direction.
  double Hardness(double log_token_count, double metric) const;

  // The documented monotone map: easiest_pass_rate - (easiest - hardest) * hardness.
  double PassRate(double log_token_count, double metric) const;

  size_t reference_size() const { return reference_size_; }
  size_t bin_count() const { return bins_.size(); }

 private:
  PriorConfig config_;
  size_t reference_size_ = 0;
  std::vector<double> upper_edges_;         // bins_.size() - 1 increasing log-length edges
  std::vector<std::vector<double>> bins_;   // sorted metric values per length bin
};

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_PREDICTOR_LENGTH_BINNED_PRIOR_H_

#include "trainer_plugin/predictor/length_binned_prior.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace sparsegate::plugin {

absl::Status ValidatePriorConfig(const PriorConfig& config) {
  if (config.length_bins < 1) {
    return absl::InvalidArgumentError(absl::StrCat("prior length_bins must be at least 1, got ", config.length_bins));
  }
  if (config.min_prompts_per_bin < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("prior min_prompts_per_bin must be at least 1, got ", config.min_prompts_per_bin));
  }
  const bool in_range = config.hardest_pass_rate >= 0 && config.easiest_pass_rate <= 1;
  if (!in_range || !(config.hardest_pass_rate < config.easiest_pass_rate)) {
    return absl::InvalidArgumentError(absl::StrCat("prior pass rates need 0 <= hardest < easiest <= 1, got hardest ",
                                                   config.hardest_pass_rate, " and easiest ",
                                                   config.easiest_pass_rate));
  }
  return absl::OkStatus();
}

void LengthBinnedPrior::Rebuild(const std::vector<ReferencePoint>& reference) {
  reference_size_ = reference.size();
  upper_edges_.clear();
  bins_.clear();
  if (reference.empty()) return;

  std::vector<double> lengths;
  lengths.reserve(reference.size());
  for (const ReferencePoint& p : reference) lengths.push_back(p.log_token_count);
  std::sort(lengths.begin(), lengths.end());

  const size_t n = reference.size();
  const size_t wanted = std::max<size_t>(
      1, std::min<size_t>(config_.length_bins, n / static_cast<size_t>(config_.min_prompts_per_bin)));
  // Quantile edges; repeated lengths can make two edges equal, and an empty bin is dropped.
  for (size_t k = 1; k < wanted; ++k) {
    const double edge = lengths[k * n / wanted];
    if (upper_edges_.empty() || edge > upper_edges_.back()) upper_edges_.push_back(edge);
  }
  bins_.assign(upper_edges_.size() + 1, {});
  for (const ReferencePoint& p : reference) {
    const size_t b = std::upper_bound(upper_edges_.begin(), upper_edges_.end(), p.log_token_count) - upper_edges_.begin();
    bins_[b].push_back(p.metric);
  }
  for (auto& bin : bins_) std::sort(bin.begin(), bin.end());
}

double LengthBinnedPrior::Percentile(double log_token_count, double metric) const {
  if (bins_.empty()) return 0.5;
  const size_t b = std::upper_bound(upper_edges_.begin(), upper_edges_.end(), log_token_count) - upper_edges_.begin();
  const std::vector<double>& bin = bins_[b];
  if (bin.empty()) return 0.5;
  const auto lower = std::lower_bound(bin.begin(), bin.end(), metric);
  const auto upper = std::upper_bound(lower, bin.end(), metric);
  const double below = static_cast<double>(lower - bin.begin());
  const double equal = static_cast<double>(upper - lower);
  return (below + 0.5 * equal) / static_cast<double>(bin.size());
}

double LengthBinnedPrior::Hardness(double log_token_count, double metric) const {
  const double percentile = Percentile(log_token_count, metric);
  return config_.direction == PriorDirection::kHigherIsHarder ? percentile : 1.0 - percentile;
}

double LengthBinnedPrior::PassRate(double log_token_count, double metric) const {
  const double span = config_.easiest_pass_rate - config_.hardest_pass_rate;
  return config_.easiest_pass_rate - span * Hardness(log_token_count, metric);
}

}  // namespace sparsegate::plugin

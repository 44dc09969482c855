// Rank statistics under row weights, for cluster-bootstrap intervals: AUROC and Spearman's rho,
// overall or within strata.
//
// A StratifiedRanking sorts one score column once, by (stratum, score). Every statistic is then an
// O(n) pass under any weight vector: a bootstrap resample that draws a cluster k times gives each
// of its rows weight k, which is the same as repeating those rows k times (ties included), without
// re-sorting. Weight 0 leaves a row out.
//
// Within strata, AUROC counts only (positive, negative) pairs of the same stratum, so a score that
// merely separates strata (a difficulty level) earns nothing there; Spearman is computed per
// stratum and averaged with each stratum weighted by its total weight. Strata not marked eligible
// are ignored. With a single stratum (all zeros) both are the ordinary statistics.
//
// Written by hand: a weighted, stratified, sort-once form is what the bootstrap needs, and no
// statistics library in Debian offers it in C++.
#ifndef SPARSEGATE_APPS_OFFLINE_STATISTICS_RANK_STATISTICS_H_
#define SPARSEGATE_APPS_OFFLINE_STATISTICS_RANK_STATISTICS_H_

#include <cstdint>
#include <optional>
#include <vector>

namespace sparsegate::offline {

class StratifiedRanking {
 public:
  // `stratum` has one entry per score, each in [0, strata); empty means one stratum.
  StratifiedRanking(const std::vector<double>& scores, const std::vector<int>& stratum = {});

  size_t size() const { return order_.size(); }
  int strata() const { return strata_; }
  int stratum_of(size_t row) const { return stratum_.empty() ? 0 : stratum_[row]; }

  // Weighted mid-ranks within each row's stratum (ties share the mean rank of their weight span);
  // rows of weight 0 get rank 0.
  std::vector<double> MidRanks(const std::vector<double>& weight) const;

  // Probability that a random positive row scores above a random negative row of the same
  // stratum (ties half), over eligible strata. nullopt when no eligible stratum has weight on
  // both classes. `eligible` empty: every stratum.
  std::optional<double> Auroc(const std::vector<uint8_t>& positive, const std::vector<double>& weight,
                              const std::vector<uint8_t>& eligible = {}) const;

 private:
  std::vector<size_t> order_;  // rows by (stratum, score)
  std::vector<int> stratum_;
  std::vector<double> scores_;
  int strata_ = 1;
};

// Weighted Spearman's rho between two rankings of the same rows and strata: the weighted Pearson
// correlation of their within-stratum mid-ranks, averaged over eligible strata by stratum weight.
// A stratum where either column is constant is skipped; nullopt when none remains.
std::optional<double> Spearman(const StratifiedRanking& x, const StratifiedRanking& y, const std::vector<double>& weight,
                               const std::vector<uint8_t>& eligible = {});

}  // namespace sparsegate::offline

#endif  // SPARSEGATE_APPS_OFFLINE_STATISTICS_RANK_STATISTICS_H_

#include "difficulty_service/service/batcher/batch_cut.h"

#include <algorithm>
#include <cstdlib>

namespace sparsegate {

std::vector<size_t> CutBatch(const std::vector<int64_t>& lengths, int64_t token_budget, int max_prompts,
                             const std::vector<int64_t>& shared_prefix, const std::vector<int64_t>& groups) {
  std::vector<size_t> batch;
  if (lengths.empty()) return batch;
  const int64_t anchor = lengths.front();
  auto shared = [&](size_t i) { return shared_prefix.empty() ? 0 : shared_prefix[i]; };
  std::vector<size_t> order(lengths.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin() + 1, order.end(), [&](size_t a, size_t b) {
    if (shared(a) != shared(b)) return shared(a) > shared(b);
    return std::llabs(lengths[a] - anchor) < std::llabs(lengths[b] - anchor);
  });
  std::vector<bool> chosen(lengths.size(), false);
  int64_t longest = 0;
  auto take = [&](size_t i) {
    const int64_t new_longest = std::max(longest, lengths[i]);
    const int64_t count = static_cast<int64_t>(batch.size()) + 1;
    const bool fits = new_longest * count <= token_budget && count <= max_prompts;
    if (chosen[i] || (!batch.empty() && !fits)) return;
    batch.push_back(i);
    chosen[i] = true;
    longest = new_longest;
  };
  for (size_t i : order) {
    const bool was_chosen = chosen[i];
    take(i);
    if (was_chosen || !chosen[i] || groups.empty()) continue;
    for (size_t j = 0; j < lengths.size(); ++j)  // the rest of its group, in arrival order
      if (groups[j] == groups[i]) take(j);
  }
  return batch;
}

}  // namespace sparsegate

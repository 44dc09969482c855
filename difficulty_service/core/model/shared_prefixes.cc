#include "difficulty_service/core/model/shared_prefixes.h"

#include <algorithm>
#include <numeric>

namespace sparsegate {

PrefixPlan PlanSharedPrefixes(const int64_t* ids, const std::vector<int64_t>& lengths, int64_t min_shared_tokens) {
  const size_t n = lengths.size();
  std::vector<int64_t> starts(n);
  int64_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    starts[i] = total;
    total += lengths[i];
  }
  auto begin = [&](size_t i) { return ids + starts[i]; };
  auto end = [&](size_t i) { return ids + starts[i] + lengths[i]; };
  auto common = [&](size_t a, size_t b) {
    return static_cast<int64_t>(std::mismatch(begin(a), end(a), begin(b), end(b)).first - begin(a));
  };

  // Groups of prompts in lexicographic order, each with the prefix its members share (0: none).
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  if (min_shared_tokens > 0) {
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return std::lexicographical_compare(begin(a), end(a), begin(b), end(b));
    });
  }
  struct Group {
    std::vector<size_t> members;
    int64_t shared = 0;
  };
  std::vector<Group> groups;
  for (size_t k = 0; k < n; ++k) {
    const size_t prompt = order[k];
    if (!groups.empty() && min_shared_tokens > 0) {
      Group& g = groups.back();
      const int64_t size = static_cast<int64_t>(g.members.size());
      const int64_t shared = std::min(size == 1 ? lengths[g.members[0]] : g.shared, common(g.members.back(), prompt));
      // Saved tokens: (size - 1) * g.shared now, size * shared with this prompt in the group.
      if (shared >= min_shared_tokens && size * shared >= (size - 1) * g.shared) {
        g.members.push_back(prompt);
        g.shared = shared;
        continue;
      }
    }
    groups.push_back({{prompt}, 0});
  }

  // In input order (each group where its first prompt is), so that without sharing the computed
  // stream is the input itself.
  for (Group& g : groups) std::sort(g.members.begin(), g.members.end());
  std::sort(groups.begin(), groups.end(), [](const Group& a, const Group& b) { return a.members[0] < b.members[0]; });

  PrefixPlan plan;
  plan.rows.resize(static_cast<size_t>(total));
  auto add_segment = [&](int64_t source_start, int64_t length, int64_t position, int parent) {
    plan.segments.push_back({source_start, length, position, parent});
    const int64_t first_row = plan.computed_tokens;
    plan.computed_tokens += length;
    return first_row;
  };
  for (const Group& g : groups) {
    int parent = -1;
    int64_t prefix_row = 0;
    if (g.members.size() > 1) {
      prefix_row = add_segment(starts[g.members[0]], g.shared, 0, -1);
      parent = static_cast<int>(plan.segments.size()) - 1;
    }
    for (size_t prompt : g.members) {
      const int64_t shared = parent >= 0 ? g.shared : 0;
      for (int64_t t = 0; t < shared; ++t) plan.rows[starts[prompt] + t] = prefix_row + t;
      if (lengths[prompt] == shared) continue;  // the whole prompt is the prefix
      const int64_t own_row = add_segment(starts[prompt] + shared, lengths[prompt] - shared, shared, parent);
      for (int64_t t = shared; t < lengths[prompt]; ++t) plan.rows[starts[prompt] + t] = own_row + (t - shared);
    }
  }
  return plan;
}

}  // namespace sparsegate

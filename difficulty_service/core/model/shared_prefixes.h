// Which tokens of a packed batch need computing when prompts share a prefix. RL prompts often do:
// a chat template and system prompt, few-shot examples, the hinted variants of one question. A
// causal model's states at a prompt's first P tokens depend on those tokens alone, so prompts that
// begin with the same P tokens can compute them once and attend to them from their own suffixes.
//
// PlanSharedPrefixes groups the prompts (one level: each group shares one prefix) and returns the
// segments to run and, for every input token, the computed row that holds its state. It is pure:
// the forward (DecoderModel::PackedHiddenStates) follows the plan. A prefix is shared only when it
// has at least `min_shared_tokens` tokens; grouping is greedy over the prompts in lexicographic
// order, growing a group while the tokens it saves do not shrink.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_SHARED_PREFIXES_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_SHARED_PREFIXES_H_

#include <cstdint>
#include <vector>

namespace sparsegate {

struct PrefixPlan {
  struct Segment {
    int64_t source_start = 0;  // where its tokens begin in the input ids
    int64_t length = 0;        // >= 1
    int64_t position = 0;      // the position of its first token: its parent's length, or 0
    int parent = -1;           // the segment whose keys and values it attends to first, or -1
  };
  // Computed back to back in this order: a parent before its children, and the prompts in input
  // order where nothing is shared.
  std::vector<Segment> segments;
  std::vector<int64_t> rows;      // for every input token, its row in the computed stream
  int64_t computed_tokens = 0;    // sum of the segments' lengths
  bool shares() const { return computed_tokens < static_cast<int64_t>(rows.size()); }
};

// ids: the packed prompts' tokens back to back; lengths: each prompt's token count (>= 1).
// min_shared_tokens <= 0 plans no sharing (one segment per prompt).
PrefixPlan PlanSharedPrefixes(const int64_t* ids, const std::vector<int64_t>& lengths, int64_t min_shared_tokens);

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_CORE_MODEL_SHARED_PREFIXES_H_

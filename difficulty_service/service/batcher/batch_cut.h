// Which waiting prompts make up the next forward pass: a pure function of their token lengths, so
// the batching rule can be tested without threads or a model.
//
// `lengths` are the waiting prompts' token counts in arrival order (index 0 waited longest). The
// batch always holds prompt 0, so no prompt starves, and adds the others closest to it in length
// (ties: the earlier arrival) while the padded size, longest x count, stays within `token_budget`
// and the count within `max_prompts`. A prompt that alone exceeds the budget still runs, alone.
// With `shared_prefix` (per prompt, the tokens it shares with prompt 0 from the start, 0 where the
// backend would not share them), prompts that share more with prompt 0 are taken before those
// closest in length: the forward computes a shared prefix once (model/shared_prefixes.h).
// With `groups` (per prompt, an id shared by the prompts of one request that share a prefix: a
// prompt and its hinted variants), a prompt taken brings the rest of its group with it while they
// fit, so that each group's prefix runs once.
// Returns the chosen indices in the order they were taken (prompt 0 first); empty for no prompts.
#ifndef SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_BATCH_CUT_H_
#define SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_BATCH_CUT_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sparsegate {

std::vector<size_t> CutBatch(const std::vector<int64_t>& lengths, int64_t token_budget, int max_prompts,
                             const std::vector<int64_t>& shared_prefix = {}, const std::vector<int64_t>& groups = {});

}  // namespace sparsegate

#endif  // SPARSEGATE_DIFFICULTY_SERVICE_SERVICE_BATCHER_BATCH_CUT_H_

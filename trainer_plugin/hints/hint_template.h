// How a hint is placed in the prompt. The hinted prompt is the prompt followed by a hint block,
// and the block is a template with one "{hint}" placeholder for the reference solution's prefix.
// The prompt here is the user message's text, before any chat template: both placements extend
// the user turn, which is what GHPO does.
//
// Two templates ship:
//   - Default(): this project's wording, a short instruction to continue from the partial solution,
//     with the prefix fenced so the model can tell where the given text ends.
//   - Ghpo(): GHPO's exact wording (hkgc-1/GHPO, ghpo_trainer.py), the prefix appended right after
//     it, for runs that must be comparable with GHPO's.
// RenderHintBlock returns the block alone, separately from the prompt, so that a caller working in
// token ids can tokenize the prompt once and the block on its own.
#ifndef SPARSEGATE_TRAINER_PLUGIN_HINTS_HINT_TEMPLATE_H_
#define SPARSEGATE_TRAINER_PLUGIN_HINTS_HINT_TEMPLATE_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace sparsegate::plugin {

struct HintTemplate {
  std::string block;  // appended after the prompt; holds "{hint}" exactly once

  static HintTemplate Default();
  static HintTemplate Ghpo();
};

absl::Status ValidateHintTemplate(const HintTemplate& hint_template);

// The hint block with `reference_prefix` in place of "{hint}". The template must be valid.
std::string RenderHintBlock(const HintTemplate& hint_template, std::string_view reference_prefix);

// The prompt to roll out: the prompt, then the block.
std::string ApplyHintBlock(std::string_view prompt, std::string_view hint_block);

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_HINTS_HINT_TEMPLATE_H_

// Chooses where to cut a reference solution so that its first part can be shown as a hint.
//
// The target is fraction f of the solution's length in code points (GHPO cuts in characters:
// round(len * f)). The cut moves back from the target to a step boundary, preferring, within
// [min_kept_share * target, target]:
//   1. a line end (the prefix ends just before a newline: whole lines, the usual step unit of a
//      worked solution),
//   2. else a sentence end (after . ! ? followed by whitespace or the end, or after a CJK full
//      stop, exclamation or question mark),
//   3. else a word boundary (whitespace on either side, or a CJK or kana character on either side,
//      since those scripts are written without spaces),
//   4. else the last character boundary at or before the target.
// The window keeps the rungs of the default ladder apart: 0.75 * 0.5 > 0.25 and 0.75 * 0.75 > 0.5,
// so the 50% hint never collapses onto the 25% one.
//
// Never cut:
//   - inside a UTF-8 sequence, or inside a grapheme cluster (a base and its combining marks, an
//     emoji ZWJ sequence, a flag, CR LF), using utf8proc's extended grapheme cluster rules;
//   - inside a LaTeX math span (math_spans.h). When the target falls inside one, the cut moves to
//     the span's start, or to its end when that is closer and overshoots the target by at most
//     math_overshoot_share of the solution's bytes.
// A nonzero fraction never yields an empty hint: if nothing is allowed before the target (say the
// solution opens with a long display equation), the cut is the first allowed point after it.
#ifndef SPARSEGATE_TRAINER_PLUGIN_HINTS_HINT_CUTTER_H_
#define SPARSEGATE_TRAINER_PLUGIN_HINTS_HINT_CUTTER_H_

#include <cstddef>
#include <string_view>

#include "absl/status/statusor.h"

namespace sparsegate::plugin {

enum class CutBoundary {
  kEmpty,        // fraction 0 or an empty solution
  kWhole,        // the target reached the end of the solution
  kLineEnd,
  kSentenceEnd,
  kWordBoundary,
  kCharacter,
};

std::string_view CutBoundaryName(CutBoundary boundary);

struct HintCutOptions {
  double min_kept_share = 0.75;        // in (0, 1]
  double math_overshoot_share = 0.05;  // in [0, 1]
};

absl::Status ValidateHintCutOptions(const HintCutOptions& options);

struct HintCut {
  size_t bytes = 0;  // the hint is solution.substr(0, bytes)
  CutBoundary boundary = CutBoundary::kEmpty;
};

// Ok when `solution` can be cut: valid UTF-8. The message gives the first bad byte's offset.
absl::Status CheckReferenceSolution(std::string_view solution);

// Errors: fraction outside [0, 1], or a solution that is not valid UTF-8 (the message gives the
// byte offset).
absl::StatusOr<HintCut> CutReferenceSolution(std::string_view solution, double fraction,
                                             const HintCutOptions& options = {});

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_HINTS_HINT_CUTTER_H_

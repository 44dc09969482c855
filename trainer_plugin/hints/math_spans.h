// Finds the LaTeX math spans in a text, so that a hint is never cut inside a formula (half an
// equation teaches the wrong thing and can leave the rest of the prompt in math mode).
//
// Recognised, outermost first, in one left-to-right pass:
//   $$ ... $$      display math
//   \[ ... \]      display math
//   \( ... \)      inline math
//   \begin{E} ... \end{E}   for the math environments equation, align, gather, multline,
//                  eqnarray, displaymath, math, flalign, alignat (each also starred)
//   $ ... $        inline math, with Pandoc's rule so that prices are not formulas: the opening
//                  $ is followed by a non-space, the closing $ is preceded by a non-space and not
//                  followed by a digit, and no blank line lies between them.
// A backslash escapes the next character (\$ is a dollar sign; \\ is a LaTeX line break, so
// "\\[2pt]" is not display math). An inline $ with no valid closer is a literal dollar sign. Any
// other opener with no closer is taken to run to the end of the text: a solution cut off
// mid-formula must not be cut further inside it.
#ifndef SPARSEGATE_TRAINER_PLUGIN_HINTS_MATH_SPANS_H_
#define SPARSEGATE_TRAINER_PLUGIN_HINTS_MATH_SPANS_H_

#include <cstddef>
#include <string_view>
#include <vector>

namespace sparsegate::plugin {

// [begin, end) in bytes, delimiters included.
struct ByteSpan {
  size_t begin = 0;
  size_t end = 0;

  bool operator==(const ByteSpan& o) const { return begin == o.begin && end == o.end; }
};

// Non-overlapping spans in increasing order.
std::vector<ByteSpan> FindMathSpans(std::string_view text);

}  // namespace sparsegate::plugin

#endif  // SPARSEGATE_TRAINER_PLUGIN_HINTS_MATH_SPANS_H_

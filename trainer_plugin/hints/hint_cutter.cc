#include "trainer_plugin/hints/hint_cutter.h"

#include <utf8proc.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "trainer_plugin/hints/math_spans.h"

namespace sparsegate::plugin {
namespace {

bool IsWhiteSpace(char32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\v' || cp == '\f' || cp == '\r' || cp == 0x85 || cp == 0x2028 ||
      cp == 0x2029) {
    return true;
  }
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp)) == UTF8PROC_CATEGORY_ZS;
}

// Scripts written without spaces between words, where any character boundary is a word boundary.
bool IsSpacelessScript(char32_t cp) {
  return (cp >= 0x3000 && cp <= 0x30FF) ||    // CJK punctuation, hiragana, katakana
         (cp >= 0x3400 && cp <= 0x4DBF) ||    // CJK extension A
         (cp >= 0x4E00 && cp <= 0x9FFF) ||    // CJK unified ideographs
         (cp >= 0xF900 && cp <= 0xFAFF) ||    // CJK compatibility ideographs
         (cp >= 0xFF00 && cp <= 0xFFEF) ||    // full-width forms
         (cp >= 0x20000 && cp <= 0x3FFFF);    // CJK extensions B and later
}

bool IsCjkSentenceEnd(char32_t cp) { return cp == 0x3002 || cp == 0xFF01 || cp == 0xFF1F; }  // 。！？

// The decoded text: code points, where each starts, and what starts or ends at each byte offset.
struct DecodedText {
  std::vector<char32_t> code_points;
  std::vector<size_t> starts;
  std::vector<int32_t> starting_at;  // per byte offset: index of the code point starting there, or -1
  std::vector<int32_t> ending_at;    // per byte offset: index of the code point ending there, or -1
};

absl::StatusOr<DecodedText> Decode(std::string_view text) {
  DecodedText d;
  const size_t n = text.size();
  d.starting_at.assign(n + 1, -1);
  d.ending_at.assign(n + 1, -1);
  const auto* bytes = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
  for (size_t i = 0; i < n;) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t len = utf8proc_iterate(bytes + i, static_cast<utf8proc_ssize_t>(n - i), &cp);
    if (len <= 0) {
      return absl::InvalidArgumentError(absl::StrCat("reference solution is not valid UTF-8 at byte ", i));
    }
    const auto index = static_cast<int32_t>(d.code_points.size());
    d.starting_at[i] = index;
    d.ending_at[i + len] = index;
    d.code_points.push_back(static_cast<char32_t>(cp));
    d.starts.push_back(i);
    i += static_cast<size_t>(len);
  }
  return d;
}

}  // namespace

std::string_view CutBoundaryName(CutBoundary boundary) {
  switch (boundary) {
    case CutBoundary::kEmpty:
      return "empty";
    case CutBoundary::kWhole:
      return "whole";
    case CutBoundary::kLineEnd:
      return "line_end";
    case CutBoundary::kSentenceEnd:
      return "sentence_end";
    case CutBoundary::kWordBoundary:
      return "word_boundary";
    case CutBoundary::kCharacter:
      return "character";
  }
  return "unknown";
}

absl::Status CheckReferenceSolution(std::string_view solution) { return Decode(solution).status(); }

absl::Status ValidateHintCutOptions(const HintCutOptions& options) {
  if (!(options.min_kept_share > 0 && options.min_kept_share <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("min_kept_share must be in (0, 1], got ", options.min_kept_share));
  }
  if (!(options.math_overshoot_share >= 0 && options.math_overshoot_share <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("math_overshoot_share must be in [0, 1], got ", options.math_overshoot_share));
  }
  return absl::OkStatus();
}

absl::StatusOr<HintCut> CutReferenceSolution(std::string_view solution, double fraction,
                                             const HintCutOptions& options) {
  if (absl::Status s = ValidateHintCutOptions(options); !s.ok()) return s;
  if (!(fraction >= 0 && fraction <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("hint fraction must be in [0, 1], got ", fraction));
  }
  absl::StatusOr<DecodedText> decoded = Decode(solution);
  if (!decoded.ok()) return decoded.status();
  const DecodedText& d = *decoded;
  const size_t n = solution.size();
  const size_t m = d.code_points.size();
  if (fraction == 0 || n == 0) return HintCut{0, CutBoundary::kEmpty};
  const auto target_cp = static_cast<size_t>(std::llround(fraction * static_cast<double>(m)));
  if (target_cp >= m) return HintCut{n, CutBoundary::kWhole};

  // allowed[b]: a prefix of b bytes ends on a grapheme cluster boundary outside every math span.
  std::vector<char> allowed(n + 1, 0);
  allowed[0] = allowed[n] = 1;
  utf8proc_int32_t grapheme_state = 0;
  for (size_t k = 1; k < m; ++k) {
    allowed[d.starts[k]] = utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(d.code_points[k - 1]),
                                                            static_cast<utf8proc_int32_t>(d.code_points[k]),
                                                            &grapheme_state);
  }
  const std::vector<ByteSpan> spans = FindMathSpans(solution);
  for (const ByteSpan& span : spans) {
    for (size_t b = span.begin + 1; b < span.end; ++b) allowed[b] = 0;
  }

  size_t limit = d.starts[target_cp];
  for (const ByteSpan& span : spans) {
    if (span.begin < limit && limit < span.end) {
      const size_t overshoot = span.end - limit;
      const bool after = overshoot < limit - span.begin &&
                         static_cast<double>(overshoot) <= options.math_overshoot_share * static_cast<double>(n);
      limit = after ? span.end : span.begin;
      break;
    }
  }
  if (limit == n) return HintCut{n, CutBoundary::kWhole};

  auto prev_cp = [&](size_t b) { return d.code_points[d.ending_at[b]]; };
  auto next_cp = [&](size_t b) { return d.code_points[d.starting_at[b]]; };
  auto is_line_end = [&](size_t b) { return b < n && (solution[b] == '\n' || solution[b] == '\r'); };
  auto is_sentence_end = [&](size_t b) {
    const char32_t p = prev_cp(b);
    if (p == '.' || p == '!' || p == '?') return b == n || IsWhiteSpace(next_cp(b));
    return IsCjkSentenceEnd(p);
  };
  auto is_word_boundary = [&](size_t b) {
    if (b == n) return true;
    const char32_t p = prev_cp(b), q = next_cp(b);
    // The end of a word, not the start of the next one, so hints do not end in a space.
    if (IsWhiteSpace(q) && !IsWhiteSpace(p)) return true;
    return IsSpacelessScript(p) || IsSpacelessScript(q);
  };

  const auto window_start = std::max<size_t>(
      1, static_cast<size_t>(std::ceil(options.min_kept_share * static_cast<double>(limit))));
  const std::pair<CutBoundary, std::function<bool(size_t)>> preferences[] = {
      {CutBoundary::kLineEnd, is_line_end},
      {CutBoundary::kSentenceEnd, is_sentence_end},
      {CutBoundary::kWordBoundary, is_word_boundary},
  };
  for (const auto& [kind, accepts] : preferences) {
    for (size_t b = limit; b >= window_start; --b) {
      if (allowed[b] && accepts(b)) return HintCut{b, kind};
    }
  }
  for (size_t b = limit; b >= 1; --b) {
    if (allowed[b]) return HintCut{b, CutBoundary::kCharacter};
  }
  for (size_t b = limit + 1; b < n; ++b) {
    if (allowed[b]) return HintCut{b, CutBoundary::kCharacter};
  }
  return HintCut{n, CutBoundary::kWhole};
}

}  // namespace sparsegate::plugin

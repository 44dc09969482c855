#include "trainer_plugin/hints/math_spans.h"

#include <array>
#include <string>

namespace sparsegate::plugin {
namespace {

constexpr std::array<std::string_view, 9> kMathEnvironments = {
    "equation", "align", "gather", "multline", "eqnarray", "displaymath", "math", "flalign", "alignat"};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The offset just past the first unescaped `closer` at or after `from`, or npos.
size_t FindCloser(std::string_view text, size_t from, std::string_view closer) {
  for (size_t j = from; j < text.size();) {
    if (text.compare(j, closer.size(), closer) == 0) return j + closer.size();
    j += text[j] == '\\' ? 2 : 1;
  }
  return std::string_view::npos;
}

// For an inline $ at `open`: the offset just past its closing $, or npos when it has none.
size_t FindInlineDollarCloser(std::string_view text, size_t open) {
  if (open + 1 >= text.size() || IsSpace(text[open + 1])) return std::string_view::npos;
  for (size_t j = open + 1; j < text.size();) {
    const char c = text[j];
    if (c == '\\') {
      j += 2;
      continue;
    }
    if (c == '\n' && j + 1 < text.size() && text[j + 1] == '\n') return std::string_view::npos;
    if (c == '$' && j > open + 1 && !IsSpace(text[j - 1]) && !(j + 1 < text.size() && IsDigit(text[j + 1]))) {
      return j + 1;
    }
    ++j;
  }
  return std::string_view::npos;
}

// For "\begin{" at `open`: the environment's name when it is a math environment, else empty.
std::string_view MathEnvironmentAt(std::string_view text, size_t open) {
  constexpr std::string_view kBegin = "\\begin{";
  if (text.compare(open, kBegin.size(), kBegin) != 0) return {};
  const size_t name_start = open + kBegin.size();
  const size_t close = text.find('}', name_start);
  if (close == std::string_view::npos) return {};
  std::string_view name = text.substr(name_start, close - name_start);
  std::string_view base = name;
  if (!base.empty() && base.back() == '*') base.remove_suffix(1);
  for (std::string_view env : kMathEnvironments) {
    if (base == env) return name;
  }
  return {};
}

}  // namespace

std::vector<ByteSpan> FindMathSpans(std::string_view text) {
  std::vector<ByteSpan> spans;
  const size_t n = text.size();
  auto add = [&](size_t begin, size_t end) {
    spans.push_back({begin, end == std::string_view::npos ? n : end});
    return spans.back().end;
  };
  for (size_t i = 0; i < n;) {
    const char c = text[i];
    if (c == '\\' && i + 1 < n) {
      const char next = text[i + 1];
      if (next == '(') {
        i = add(i, FindCloser(text, i + 2, "\\)"));
      } else if (next == '[') {
        i = add(i, FindCloser(text, i + 2, "\\]"));
      } else if (std::string_view env = MathEnvironmentAt(text, i); !env.empty()) {
        const std::string closer = "\\end{" + std::string(env) + "}";
        i = add(i, FindCloser(text, i + 7 + env.size() + 1, closer));
      } else {
        i += 2;  // an escaped character, \$ and \\ included
      }
    } else if (c == '$' && i + 1 < n && text[i + 1] == '$') {
      i = add(i, FindCloser(text, i + 2, "$$"));
    } else if (c == '$') {
      const size_t end = FindInlineDollarCloser(text, i);
      i = end == std::string_view::npos ? i + 1 : add(i, end);
    } else {
      ++i;
    }
  }
  return spans;
}

}  // namespace sparsegate::plugin
